/**
 * A copy of a config fit to print: values of secret keys (password, secret, token) replaced, and a
 * password inside any URL (mqtt://user:password@host, or a `password=` query parameter) hidden
 * wherever the URL appears.
 *
 * A password with `@`, `#`, `/` or `?` that was not percent-encoded makes the URL invalid or moves
 * its parts around (`postgres://u:a#b@h` parses as host `u`, port `a`, fragment `b@h`), so the
 * userinfo is hidden up to the last `@`, whatever lies between (spaces too: a config value that is
 * refused for one is shown in the error), and a `password=` parameter up to the next `&`. A URL with
 * a port and an `@` later in its path or query, and no user, loses a little more of itself than it
 * needs to; nothing is shown that could be a password.
 */
const SECRET = /(password|secret|token)$/i;
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:\s]*):.*@/i;
const QUERY_PASSWORD = /([?&]password=)[^&]*/gi;

/** True for a config key (or a dotted path ending in one) whose value is a secret. */
function isSecretKey(key: string): boolean {
  return SECRET.test(key);
}

/** A URL with its password (if any) replaced by `(hidden)`; anything else unchanged. */
export function redactUrl(s: string): string {
  if (!s.includes('://')) return s;
  return s.replace(URL_PASSWORD, '$1:(hidden)@').replace(QUERY_PASSWORD, '$1(hidden)');
}

export function redact<T>(v: T): T {
  if (typeof v === 'string') return redactUrl(v) as T;
  if (Array.isArray(v)) return v.map(redact) as T;
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactEntry(k, x)])) as T;
}

/** The value of config key `key` fit to print: a secret key's hidden, anything else as redact() prints it. */
export function redactEntry(key: string, value: unknown): unknown {
  return isSecretKey(key) && typeof value === 'string' && value ? '(hidden)' : redact(value);
}
