/**
 * A stand-in fleet for the collector benchmark: full-size summaries (every feature, every score,
 * histograms) as the agent builds them, published by a separate process so that publishing does not
 * share the collector's event loop. Run as a script: node --import tsx bench/fleet.ts URL SITE N CAMERAS [ROOT]
 * ROOT replaces the topics' `driftline/v1` (same length: `driftline/b1`), so that a baseline
 * subscriber's traffic never reaches a collector subscribed to the device topics on the same broker.
 *
 * It prints one JSON line when done: its CPU time and wall time from connecting to the last PUBACK,
 * so the bench can tell whether the publisher, not the subscriber, set the pace. On this 2-core
 * machine the publisher shares the CPU with the broker and the subscriber, and every microsecond it
 * spends is one they lack: it speaks MQTT itself (publish below) and builds bodies as bytes.
 */
import { createConnection } from 'node:net';
import type { DriftResult } from '../agent/drift/types.js';
import { PROFILE_FEATURES } from '../agent/drift/profile-schema.js';
import { summary, type Identity } from '../agent/publish/messages.js';
import type { WindowAggregate } from '../agent/telemetry/window.js';
import { summaryTopic, TOPIC_ROOT } from '../protocol/topics.js';

const CLASSES = ['good', 'scratch', 'missing_notch'];

export function identity(site: string): Identity {
  return { site, device: 'edge', version: '0.1.0', model: { name: 'line-detector.onnx', sha256: 'c'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: [], windowSeconds: 60 };
}

const window: WindowAggregate = {
  startTs: 1_790_000_000_000,
  endTs: 1_790_000_059_500,
  frames: 120,
  features: Object.fromEntries(PROFILE_FEATURES.map((f, i) => [f, { mean: 100 + i, std: 3.5, min: 90 + i, max: 110 + i }])),
  classCounts: { good: 117, scratch: 2, missing_notch: 1 },
  confHist: Object.fromEntries(CLASSES.map((c) => [c, Array.from({ length: 20 }, (_, i) => (i * 7) % 13)])),
  latencyMs: Object.fromEntries(['preprocess', 'inference', 'postprocess'].map((s) => [s, { p50: 1.1, p95: 1.9, p99: 2.4, max: 3.2 }])),
};

/** The drift result of a window at `severity`, with all the scores a real one has. */
export function driftResult(severity: 'ok' | 'alert'): DriftResult {
  const scores: Record<string, number> = {};
  for (const f of PROFILE_FEATURES) for (const s of ['psi', 'js', 'ks', 'w1']) scores[`${s}:${f}`] = 0.0123;
  for (const c of CLASSES) scores[`js:conf.${c}`] = 0.02;
  Object.assign(scores, { 'js:classMix': 0.01, 'rate:uncertain': 0.12, 'rate:ood': 0, 'mean:topScore': 0.91 });
  return {
    severity,
    frames: 120,
    thresholds: 'calibrated',
    drivers: severity === 'alert' ? [{ key: 'psi:brightness', value: 0.8, warn: 0.3, alert: 0.4, level: 'alert' }] : [],
    rates: { uncertain: 0.12, ood: 0, oodDetection: 0 },
    oodFeatures: {},
    sequential: { topScore: { statistic: 0, alarm: false }, uncertain: { statistic: 0.4, alarm: false }, classMix: { statistic: 0, alarm: false } },
    scores,
  };
}

export function payload(site: string, camera: string, seq: number, severity: 'ok' | 'alert' = 'ok'): string {
  return JSON.stringify(summary(identity(site), { camera, window, dropped: 0, errors: 0, drift: driftResult(severity), reference: Object.fromEntries(PROFILE_FEATURES.map((f) => [f, { mean: 100, std: 5 }])) }, seq));
}

/** MQTT's variable-length integer (remaining length). */
function varint(x: number): number[] {
  const out: number[] = [];
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 128;
    out.push(b);
  } while (x > 0);
  return out;
}

/** A UTF-8 string as MQTT writes it: two bytes of length, then the bytes. */
function mqttString(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
}

/**
 * Publishes `count` summaries at QoS 1 over a plain MQTT 3.1.1 connection, at most `window`
 * unacknowledged, written in one socket write per turn of the event loop. mqtt.js spent about
 * 50 µs of CPU per message here (options, message-id allocator, outgoing store), which on this
 * 2-core machine was taken from the broker and the subscriber being measured: the baseline ran
 * 30-40% faster with this publisher (docs/performance.md).
 */
async function publish(url: string, site: string, count: number, cameras: number, root: string, window = 200): Promise<void> {
  const u = new URL(url);
  const sock = createConnection(Number(u.port || 1883), u.hostname);
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const variable = Buffer.concat([mqttString('MQTT'), Buffer.from([4, 2, 0, 60]), mqttString(`bench-fleet-${site}`)]);
  sock.write(Buffer.concat([Buffer.from([0x10, ...varint(variable.length)]), variable]));
  // Built once per camera: a real fleet's serialising happens on the edge boxes, not beside the collector.
  const MARK = '"seq":999999999';
  const templates = Array.from({ length: cameras }, (_, c) => {
    const text = payload(site, `cam${c}`, 999_999_999);
    const at = text.indexOf(MARK) + '"seq":'.length;
    return { head: Buffer.from(text.slice(0, at)), tail: Buffer.from(text.slice(at + 9)), topic: mqttString(summaryTopic(site, 'edge', `cam${c}`).replace(TOPIC_ROOT, root)) };
  });
  let connected = false;
  let acked = 0;
  let inflight = 0;
  let wake: (() => void) | undefined;
  let failed: Error | undefined;
  let rest: Buffer = Buffer.alloc(0);
  sock.on('error', (e) => {
    failed = e;
    wake?.();
  });
  sock.on('data', (d: Buffer) => {
    const b = rest.length ? Buffer.concat([rest, d]) : d;
    let i = 0;
    for (;;) {
      // fixed header: type, remaining length (a varint), then that many bytes
      let len = 0;
      let mul = 1;
      let j = i + 1;
      for (; j < b.length; j++) {
        len += (b[j]! & 127) * mul;
        mul *= 128;
        if (b[j]! < 128) break;
      }
      if (j >= b.length || b.length - (j + 1) < len) break;
      const type = b[i]! >> 4;
      if (type === 2) {
        if (b[j + 2] !== 0) failed = new Error(`broker refused the connection: ${b[j + 2]}`);
        connected = true;
      } else if (type === 4) {
        acked++;
        inflight--;
      }
      i = j + 1 + len;
    }
    rest = b.subarray(i);
    wake?.();
    wake = undefined;
  });
  const sleep = (): Promise<void> => new Promise<void>((r) => (wake = r));
  while (!connected && !failed) await sleep();
  let sent = 0;
  let id = 0;
  while (sent < count && !failed) {
    const out: Buffer[] = [];
    for (; inflight < window && sent < count; sent++, inflight++) {
      const t = templates[sent % cameras]!;
      const seq = Buffer.from(String(Math.floor(sent / cameras) + 1));
      id = id === 65535 ? 1 : id + 1;
      out.push(Buffer.from([0x32, ...varint(t.topic.length + 2 + t.head.length + seq.length + t.tail.length)]), t.topic, Buffer.from([id >> 8, id & 255]), t.head, seq, t.tail);
    }
    if (out.length) sock.write(Buffer.concat(out));
    if (sent < count) await sleep();
  }
  while (acked < count && !failed) await sleep();
  sock.end(Buffer.from([0xe0, 0])); // DISCONNECT
  if (failed) throw failed;
}

if (process.argv[1]?.endsWith('fleet.ts')) {
  const [url, site, n, cams, root] = process.argv.slice(2);
  const count = Number(n);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await publish(url!, site!, count, Number(cams), root ?? TOPIC_ROOT);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ published: count, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
}
