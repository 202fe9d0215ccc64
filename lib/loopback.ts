/**
 * Whether an address is reachable from this machine only: what decides if a listener may serve
 * something without asking who is calling.
 */

/** 127.0.0.0/8, ::1 and localhost: only processes on this machine can connect. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
