/**
 * Fuzz through the real path: 1,200 random and malformed payloads, with 60 valid summaries among
 * them, published on a camera's summary topic of the machine's Mosquitto. Every malformed payload is
 * built to be invalid in a known way, so the collector's reject counters must match exactly; it must
 * stay up, and every valid summary must be stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { Rng } from '../../../agent/synth/rng.js';
import type { RejectReason } from '../../../collector/ingest/ingest.js';
import { summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg, testCollector, uniqueName, untilSubscribed } from '../../helpers/collector.js';
import { TestBroker } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

type Case = { payload: Buffer; reason: RejectReason };

const REQUIRED = ['schema', 'site', 'device', 'camera', 'seq', 'start', 'end', 'frames', 'dropped', 'errors', 'model', 'provider', 'status', 'features', 'classCounts', 'confHist', 'latencyMs'] as const;
/** Values that are wrong for the field they replace, whatever it is. */
const WRONG: Record<string, readonly unknown[]> = {
  schema: ['driftline.summary/2', 'driftline.status/1', 7, null],
  site: ['', 'a/b', '+', '#', 5, 'x'.repeat(65)],
  seq: [0, -1, 1.5, '7', null, 2 ** 60],
  start: [-5, 'yesterday', 1.25],
  frames: [-1, 0.5, '10', true],
  status: ['meh', 'OK', 3, null],
  model: [{ name: 'm' }, { name: 'm', sha256: 'xyz' }, 'model', []],
  features: [[], { brightness: { mean: 'dark' } }, { brightness: { mean: 1, std: 1, min: 1 } }, 12],
  classCounts: [{ good: -1 }, { good: 'many' }, [1, 2]],
  confHist: [{ good: 'x' }, { good: [-1] }],
  latencyMs: [{ inference: { p50: 1 } }, 'fast'],
  drivers: [[{ key: 'psi:x' }], 'none', [{ key: 'k', value: 'high', warn: 1, alert: 2, level: 'warn' }], [{ key: 'k', value: 1, warn: 1, alert: 2, level: 'bad' }]],
  rates: [{ uncertain: 2, ood: 0 }, { uncertain: 0.1 }],
  review: [[{ file: 'a.jpg' }], 'frames'],
};

function cases(site: string, device: string, rng: Rng, n: number): Case[] {
  const out: Case[] = [];
  const valid = (): Record<string, unknown> => summaryMsg(site, device, 'cam', 1) as unknown as Record<string, unknown>;
  const pick = <T>(a: readonly T[]): T => a[rng.int(0, a.length - 1)]!;
  let timeSeq = 0;
  const generators: (() => Case)[] = [
    // Random bytes that cannot be JSON (a 0xff byte is never valid UTF-8 JSON text).
    () => ({ payload: Buffer.from([0xff, ...Array.from({ length: rng.int(0, 300) }, () => rng.int(0, 255))]), reason: 'json' }),
    // Truncated or broken JSON text.
    () => {
      const s = JSON.stringify(valid());
      return { payload: Buffer.from(s.slice(0, rng.int(1, s.length - 2))), reason: 'json' };
    },
    () => ({ payload: Buffer.from(pick(['{"seq": NaN}', '{', "{'a': 1}", '', '{"a":1}}', 'undefined', '[1,2,'])), reason: 'json' }),
    // JSON that is not an object.
    () => ({ payload: Buffer.from(JSON.stringify(pick([1, 'summary', [1, 2], null, true, [valid()]]))), reason: 'schema' }),
    () => ({ payload: Buffer.from('['.repeat(5000) + ']'.repeat(5000)), reason: 'schema' }),
    // A well-formed summary whose times cannot be: it ends before it starts, or in the far future.
    // It is quarantined with the reason, not dropped (a seq of its own, so none is a repeat).
    () => {
      const m = valid();
      m.seq = 1_000_000 + timeSeq++;
      if (rng.int(0, 1) === 0) m.end = (m.start as number) - rng.int(1, 60_000);
      else m.end = Date.now() + rng.int(301, 10_000_000) * 1000;
      return { payload: Buffer.from(JSON.stringify(m)), reason: 'time' };
    },
    // A valid summary with one required field removed.
    () => {
      const m = valid();
      delete m[pick(REQUIRED)];
      return { payload: Buffer.from(JSON.stringify(m)), reason: 'schema' };
    },
    // A valid summary with one field of the wrong type or out of range.
    () => {
      const m = valid();
      const k = pick(Object.keys(WRONG));
      m[k] = pick(WRONG[k]!);
      return { payload: Buffer.from(JSON.stringify(m)), reason: 'schema' };
    },
    // Valid, but for another camera or device than the topic says.
    () => ({ payload: Buffer.from(JSON.stringify({ ...valid(), ...pick([{ camera: 'other' }, { device: 'other' }, { site: 'other' }]) })), reason: 'identity' }),
    // Over the size limit (an unknown field padding an otherwise valid summary).
    () => ({ payload: Buffer.from(JSON.stringify({ ...valid(), padding: 'x'.repeat(20_000) })), reason: 'oversized' }),
  ];
  for (let i = 0; i < n; i++) out.push(pick(generators)());
  return out;
}

test('fuzz: 1,200 malformed payloads are counted and dropped, the collector stays up, valid summaries are all stored', { timeout: 120_000 }, async (t) => {
  const release = releaser(t);
  // A broker of its own: the counts asserted below are of everything the collector receives, and
  // on the machine's broker another test file running beside this one would add to them.
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url }, ingest: { maxPayloadBytes: 16_384 } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const site = uniqueName('fuzz');
  const device = uniqueName('edge');
  const bad = cases(site, device, new Rng(20261128), 1200);
  const client = await connectAsync(broker.url, { clientId: uniqueName('fuzzer') });
  release('fuzzer', () => client.endAsync());
  const topic = summaryTopic(site, device, 'cam');
  let seq = 0;
  for (let i = 0; i < bad.length; i++) {
    await client.publishAsync(topic, bad[i]!.payload, { qos: 1 });
    if (i % 20 === 0) await client.publishAsync(topic, JSON.stringify(summaryMsg(site, device, 'cam', ++seq)), { qos: 1 });
  }
  const expected: Record<string, number> = { oversized: 0, topic: 0, json: 0, schema: 0, identity: 0, time: 0 };
  for (const c of bad) expected[c.reason]!++;
  const badTimes = expected.time!;
  expected.time = 0; // a summary with bad times is quarantined, not rejected
  const rejects = bad.length - badTimes;
  await until(() => collector.ingest.rejectedTotal >= rejects && collector.ingest.counters.quarantined >= badTimes && collector.store.summaries(site, device, 'cam').length === seq, 60_000, 'every payload to be handled');
  assert.deepEqual({ ...collector.ingest.counters.rejected }, expected, 'rejects by reason match what was sent');
  assert.ok(Object.values(expected).filter((n) => n > 0).length === 4 && badTimes > 0, 'every kind of malformed payload was sent (all but topic: one topic here)');
  assert.equal(collector.ingest.counters.quarantined, badTimes, 'every summary with impossible times is quarantined');
  assert.equal(collector.store.quarantineSize(), badTimes);
  assert.deepEqual(collector.store.summaries(site, device, 'cam').map((s) => s.seq), Array.from({ length: seq }, (_, i) => i + 1), 'every valid summary stored, once');
  assert.equal(collector.ingest.counters.failed, 0);
  const health = await (await fetch(`${collector.httpUrl}/healthz`)).json();
  assert.deepEqual(health, { ok: true, broker: true });
  const metrics = await (await fetch(`${collector.httpUrl}/metrics`)).text();
  assert.match(metrics, new RegExp(`driftline_collector_rejected_total\\{reason="schema"\\} ${expected.schema}\\b`));
});
