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
 *
 * The check refuses what node-postgres would read differently from what was meant: a URL that does
 * not parse, a `#` (a password's `#` starts a fragment), an `@` after the host (`u:2024/x@db` is host
 * `u`, port 2024, database `x@db`), and a `%` that does not start an escape (its parser then
 * re-encodes the whole URL, and the password parameter with it).
 */

/** pg-connection-string's own test for a URL it re-encodes before parsing. */
const REENCODED = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]|%.?$/i;
/** The socket form `postgres://user@/db?host=/run/postgresql` (no host between `@` and `/`), which node-postgres reads with a stand-in host. */
const NO_HOST = '@/';
const STAND_IN = '@driftline-no-host/';

function parse(url: string): { u: URL; standIn: boolean } | undefined {
  for (const standIn of [false, true]) {
    if (standIn && !url.includes(NO_HOST)) break;
    try {
      return { u: new URL(standIn ? url.replace(NO_HOST, STAND_IN) : url), standIn };
    } catch {
      // tried with the stand-in next
    }
  }
  return undefined;
}

/**
 * What is wrong with a store URL, or undefined. A password with `@ # / ? :` or `%` left as it is
 * breaks the URL or moves its parts (`postgres://u:a#b@h` is host `u`, port `a`, fragment `b@h`).
 */
export function storeUrlProblem(url: string): string | undefined {
  const encode = 'percent-encode the password (%40 for @, %23 for #, %2F for /, %3F for ?, %25 for %), or keep it out of the URL in store.passwordFile';
  const p = parse(url);
  if (!p) return `a URL that parses: ${encode}`;
  const { u } = p;
  if (url.includes('#')) return `a URL without a #: ${encode}`;
  if (u.pathname.includes('@') || u.search.includes('@')) return `a URL with no @ after its host: ${encode}`;
  if (REENCODED.test(url)) return `a URL whose every % starts an escape (%25 for a % itself): ${encode}`;
  // The stand-in host is no host: the socket form needs its folder.
  if ((p.standIn || !u.hostname) && !u.searchParams.get('host')) return 'a URL that names a host (postgres://user@host:5432/database), or a socket folder as ?host=/run/postgresql';
  return undefined;
}

/** True when the URL carries a password of its own (in its userinfo, or as a `password` parameter). */
export function passwordInUrl(url: string): boolean {
  const u = parse(url)?.u;
  return u !== undefined && (u.password !== '' || Boolean(u.searchParams.get('password')));
}

/** The connection string node-postgres gets: `url`, with `password` (if any) in place of the URL's own. */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const p = parse(url);
  if (!p) throw new Error('store.url does not parse as a URL'); // checked with the config; never shown, it may hold a password
  p.u.searchParams.set('password', password);
  return p.standIn ? p.u.href.replace(STAND_IN, NO_HOST) : p.u.href;
}
