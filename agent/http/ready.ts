/**
 * Is the agent ready, doing its job end to end? Behind /readyz. The model must be able to run (its
 * inference thread alive), the store must be open, and what the agent reports must be getting out:
 * the MQTT broker reachable, or else the outbox holding the backlog within its limits (store and
 * forward is made for outages, so a short one is not a reason to be unready; a long one, or an outbox
 * that has started to drop messages, is). Liveness (a wedged frame loop) is /healthz's question.
 */

export interface ReadinessInputs {
  /** Why inference cannot run (the worker thread died); undefined while it can. */
  readonly inferenceFailure: string | undefined;
  /** Why the store cannot be read; undefined while it is open and answers. */
  readonly storeFailure: string | undefined;
  /** The MQTT side; undefined when publishing is off (mqtt.url empty). */
  readonly mqtt?: { readonly connected: boolean; readonly rows: number; readonly maxRows: number; readonly oldestAgeSeconds: number };
  /** http.readyOutboxSeconds: the oldest unsent message may be this old while the broker is unreachable. */
  readonly outboxSeconds: number;
}

export interface Readiness {
  readonly ready: boolean;
  /** One sentence per failing check; empty when ready. */
  readonly reasons: string[];
  readonly checks: {
    readonly model: { readonly ok: boolean };
    readonly store: { readonly ok: boolean };
    readonly mqtt: { readonly ok: boolean; readonly enabled: boolean; readonly connected?: boolean; readonly outboxMessages?: number; readonly outboxOldestSeconds?: number };
  };
}

export function readiness(i: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (i.inferenceFailure) reasons.push(`the model cannot run: ${i.inferenceFailure}`);
  if (i.storeFailure) reasons.push(`the store cannot be read: ${i.storeFailure}`);
  let mqtt: Readiness['checks']['mqtt'] = { ok: true, enabled: false };
  if (i.mqtt) {
    const m = i.mqtt;
    const age = Math.round(m.oldestAgeSeconds);
    const full = m.rows >= m.maxRows;
    const late = m.oldestAgeSeconds > i.outboxSeconds;
    const ok = m.connected || (!full && !late);
    if (!ok) {
      reasons.push(
        full
          ? `the MQTT broker is unreachable and the outbox is full (${m.rows} messages, mqtt.outboxMaxRows ${m.maxRows}): the oldest are being dropped`
          : `the MQTT broker is unreachable and the oldest unsent message is ${age} s old (over http.readyOutboxSeconds ${i.outboxSeconds} s; ${m.rows} messages waiting)`,
      );
    }
    mqtt = { ok, enabled: true, connected: m.connected, outboxMessages: m.rows, outboxOldestSeconds: age };
  }
  return { ready: reasons.length === 0, reasons, checks: { model: { ok: !i.inferenceFailure }, store: { ok: !i.storeFailure }, mqtt } };
}
