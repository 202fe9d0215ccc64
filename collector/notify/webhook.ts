/**
 * A generic JSON webhook: the alert as published on MQTT (driftline.alert/1), signed so the receiver
 * can tell it came from this collector and was not replayed:
 *   X-Driftline-Timestamp: unix seconds
 *   X-Driftline-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the shared secret>
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AlertRecord } from '../store/store.js';
import { postJson, wireAlert, type Sink } from './sink.js';

export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver runs: true when the signature matches and the timestamp is within `toleranceS`. */
export function verify(secret: string, timestamp: string, body: string, signature: string, toleranceS = 300, now = Date.now()): boolean {
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > toleranceS) return false;
  const want = Buffer.from(sign(secret, timestamp, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export class WebhookSink implements Sink {
  readonly name = 'webhook';
  readonly wantsResend = false;

  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly timeoutMs: number,
  ) {}

  send(a: AlertRecord): Promise<void> {
    const body = JSON.stringify(wireAlert(a));
    const ts = String(Math.floor(Date.now() / 1000));
    return postJson(this.url, body, { 'x-driftline-timestamp': ts, 'x-driftline-signature': sign(this.secret, ts, body) }, this.timeoutMs);
  }
}
