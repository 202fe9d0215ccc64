/**
 * A copy of a config fit to print: values of secret keys (password, secret, token) replaced, and a
 * password inside any URL (mqtt://user:password@host) hidden wherever the URL appears.
 */
const SECRET = /(password|secret|token)$/i;
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:\s]*):[^/?#@\s]*@/i;

/** A URL with its password (if any) replaced by `(hidden)`; anything else unchanged. */
export function redactUrl(s: string): string {
  return s.replace(URL_PASSWORD, '$1:(hidden)@');
}

export function redact<T>(v: T): T {
  if (typeof v === 'string') return redactUrl(v) as T;
  if (Array.isArray(v)) return v.map(redact) as T;
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET.test(k) && typeof x === 'string' && x ? '(hidden)' : redact(x)])) as T;
}
