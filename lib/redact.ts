/** A copy of a config fit to print: values of secret keys (password, secret, token) replaced. */
const SECRET = /(password|secret|token)$/i;

export function redact<T>(v: T): T {
  if (Array.isArray(v)) return v.map(redact) as T;
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET.test(k) && typeof x === 'string' && x ? '(hidden)' : redact(x)])) as T;
}
