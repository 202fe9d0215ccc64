/** One interface for every place alerts go; send() rejects when the delivery failed and should be retried. */
import type { AlertRecord } from '../store/store.js';

export interface Sink {
  readonly name: string;
  /** Whether re-sends of active alerts go here too (Alertmanager forgets alerts it stops hearing about). */
  readonly wantsResend: boolean;
  send(a: AlertRecord): Promise<void>;
}

/** The alert as it goes on the wire (the store's bookkeeping stripped). */
export function wireAlert(a: AlertRecord): Record<string, unknown> {
  const { fingerprint: _f, updatedAt: _u, ...wire } = a;
  return wire;
}

/** POSTs JSON; rejects on a network error, a timeout or a non-2xx answer. */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(timeoutMs) });
  if (res.status < 200 || res.status >= 300) {
    const text = (await res.text().catch(() => '')).slice(0, 200);
    throw new Error(`${url} answered ${res.status}${text ? `: ${text}` : ''}`);
  }
  await res.arrayBuffer().catch(() => undefined);
}
