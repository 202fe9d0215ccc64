/**
 * Taking over the broker session of a replica that died. A replica's session is persistent and a
 * member of the shared subscription: the broker keeps for it what it had sent and not seen
 * acknowledged, and goes on giving it its share of new messages (Mosquitto does not hand them to
 * the other members). The leader connects with the dead replica's client id and without a clean
 * start, so the broker hands over what it held; unsubscribes at once, so no new share comes; stores
 * what arrives through the same ingest and acknowledges it after the commit; and once it has been
 * quiet for `quietMs`, disconnects with a session expiry of 0, which ends the session.
 *
 * Quiet means no message and no commit for `quietMs`: while a burst commits, the broker sends no more
 * than the session's window of unacknowledged messages, so a slow commit is not the end of what the
 * session held, and while the connection is down (a refused commit drops it on purpose) it waits
 * for the session to come back. The takeover connects with the replicas' own session expiry, not 0,
 * and sets 0 only in its final DISCONNECT, when nothing was left behind. A takeover that could not
 * finish (no connection at the end, a message that came while stopping) throws, and leaves the
 * session and what it holds to the broker for the next try.
 */
import type { IClientOptions } from 'mqtt';
import type { Backoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/log.js';
import { Subscriber, type SubscriberOptions } from '../broker/subscriber.js';

export interface AdoptOptions {
  readonly url: string;
  readonly client: IClientOptions;
  readonly clientId: string;
  /** The filters the dead replica subscribed to (its shared subscription). */
  readonly filters: readonly string[];
  readonly backoff: Backoff;
  readonly log: Logger;
  readonly onMessage: (topic: string, payload: Buffer) => void;
  readonly batch: SubscriberOptions['batch'];
  /** No message for this long after the unsubscribe: all handed over (default 1 s). */
  readonly quietMs?: number;
  /** Give up waiting after this long (default 30 s); the session still ends. */
  readonly maxMs?: number;
  /** The session's expiry while it is taken over (the replicas' own `broker.sessionExpirySeconds`). */
  readonly sessionExpirySeconds: number;
  /** MQTT 5 Receive Maximum of the takeover's session (default: the subscriber's). */
  readonly receiveMaximum?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Returns how many messages the dead replica's session handed over. */
export async function adoptSession(o: AdoptOptions): Promise<number> {
  let count = 0;
  let last = Date.now();
  const sub = new Subscriber({
    url: o.url,
    client: { ...o.client, clientId: o.clientId },
    filters: [],
    protocolVersion: 5,
    sessionExpirySeconds: o.sessionExpirySeconds,
    endSessionOnStop: true,
    ...(o.receiveMaximum ? { receiveMaximum: o.receiveMaximum } : {}),
    backoff: o.backoff,
    log: o.log,
    onMessage: (topic, payload) => {
      count++;
      last = Date.now();
      o.onMessage(topic, payload);
    },
    ...(o.batch ? { batch: o.batch } : {}),
  });
  const t0 = Date.now();
  const maxMs = o.maxMs ?? 30_000;
  let finished = false;
  sub.start();
  try {
    while (!sub.connected) {
      if (Date.now() - t0 > 10_000) throw new Error(`could not connect as ${o.clientId} to take over its session`);
      await sleep(20);
    }
    await sub.mqtt!.unsubscribeAsync([...o.filters]);
    last = Date.now();
    const quietMs = o.quietMs ?? 1000;
    // Quiet: connected (a refused commit drops the connection; the session comes back with what it
    // held), no burst in hand, and nothing arrived or committed for quietMs.
    while ((!sub.connected || sub.settling || Date.now() - Math.max(last, sub.lastSettled) < quietMs) && Date.now() - t0 < maxMs) await sleep(50);
    finished = sub.connected && !sub.settling;
  } finally {
    await sub.stop();
  }
  // The session ends only when it was given up with nothing left in it; otherwise the broker keeps
  // it, and the caller tries again (the leader abandons the dead replica until the next try).
  if (!finished || sub.declined > 0) throw new Error(`the takeover of ${o.clientId}'s session did not finish within ${maxMs} ms (connected: ${sub.connected}, declined while stopping: ${sub.declined}); its session is kept for the next try`);
  return count;
}
