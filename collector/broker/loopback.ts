/**
 * Whether the embedded broker's address is reachable from other machines, and the one error for
 * an anonymous broker that would be: config validation and the broker's start both raise it, so
 * neither a bad file nor a direct caller can expose an unauthenticated broker by accident.
 */

/** The DRIFTLINE_ERR_CONFIG details for an anonymous broker beyond loopback. */
export function anonymousBeyondLoopback(host: string): { key: string; value: string; expected: string } {
  return {
    key: 'broker.registry',
    value: '""',
    expected: `a device registry file when the embedded broker listens beyond loopback (broker.host ${JSON.stringify(host)}): anyone who reaches it could publish as any device. Set broker.registry (docs/security.md), listen on 127.0.0.1, or set broker.allowAnonymous: true to accept that`,
  };
}
