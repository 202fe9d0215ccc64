/**
 * The collector's PostgreSQL URL (store.url): checked once with the config, and given the password
 * from store.passwordFile when it connects.
 *
 * node-postgres lets every value it parses out of a connection string override the options passed
 * beside it, and a URL without a password parses as an empty one. `{ connectionString, password }`
 * therefore connects without the password, and a server that asks for one refuses ("client password
 * must be a string"). Its parser also reads a `password` query parameter before the URL's own
 * userinfo. So the file's password goes into the URL as that parameter: it is what the server gets,
 * whatever the URL held, as docs/configuration.md says. The URL that carries it is handed to
 * node-postgres only; logs and errors show the configured one, masked (lib/redact.ts).
 */

/**
 * What is wrong with a store URL, or undefined. A password with `@ # / ? :` or `%` left as it is
 * breaks the URL or moves its parts (`postgres://u:a#b@h` is host `u`, port `a`, fragment `b@h`).
 */
export function storeUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'a URL that parses: a password with @ # / ? : or % in it must be percent-encoded (%40 for @, %23 for #), or kept out of the URL in store.passwordFile';
  }
  if (u.hash) return 'a URL without a #fragment: a # in a password must be percent-encoded as %23, or the password kept in store.passwordFile';
  if (!u.hostname && !u.searchParams.get('host')) return 'a URL that names a host (postgres://user@host:5432/database), or a socket folder as ?host=/run/postgresql';
  return undefined;
}

/** The connection string node-postgres gets: `url`, with `password` (if any) in place of the URL's own. */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const u = new URL(url);
  u.searchParams.set('password', password);
  return u.href;
}
