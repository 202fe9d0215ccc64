/**
 * Issue 11, finding 6: two agents with one device name fought for ever, each disconnected every
 * ~400 ms, and neither said why. Now each recognises the pattern, logs DRIFTLINE_ERR_DUPLICATE_DEVICE
 * naming the device, and backs off instead of reconnecting at once.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Outbox } from '../../../agent/publish/outbox.js';
import { Publisher } from '../../../agent/publish/publisher.js';
import { TakeoverDetector } from '../../../agent/publish/takeover.js';
import { openDatabase } from '../../../agent/store/database.js';
import { statusTopic } from '../../../protocol/topics.js';
import { uniqueName } from '../../helpers/collector.js';
import { TestBroker } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

test('the takeover pattern: three short sessions within a minute, reported at most once a minute', () => {
  const d = new TakeoverDetector();
  assert.equal(d.sessionEnded(400, 1000), false);
  assert.equal(d.sessionEnded(60_000, 2000), false, 'a long session does not count');
  assert.equal(d.sessionEnded(300, 3000), false);
  assert.equal(d.sessionEnded(500, 4000), true, 'the third short session within the minute');
  assert.ok(d.suspected);
  assert.equal(d.sessionEnded(200, 5000), false, 'once a minute');
  const again: number[] = [];
  for (let t = 6000; t <= 70_000; t += 1000) if (d.sessionEnded(200, t)) again.push(t);
  assert.deepEqual(again, [64_000], 'still going a minute after the first report: said again, once');
  assert.equal(d.reported, 2);
  const calm = new TakeoverDetector();
  for (let t = 0; t < 10; t++) assert.equal(calm.sessionEnded(300, t * 40_000), false, 'short sessions far apart (a flaky network) are not a takeover');
});

test('two agents as one device on Mosquitto: both say DRIFTLINE_ERR_DUPLICATE_DEVICE and back off', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const site = 'plant';
  const device = uniqueName('clone');
  const dir = await mkdtemp(join(tmpdir(), 'driftline-takeover-'));
  const agents = [0, 1].map((i) => {
    const lines: string[] = [];
    const db = openDatabase(join(dir, `agent-${i}.db`));
    release(`db ${i}`, () => db.close());
    const p = new Publisher(new Outbox(db, 100), {
      url: broker.url,
      // The same client id: a copied config.
      client: { clientId: `driftline-agent-${site}-${device}`, reconnectPeriod: 0, keepalive: 30 },
      statusTopic: statusTopic(site, device),
      birth: () => '{}',
      will: () => '{}',
      offline: () => '{}',
      drainPerSecond: 10,
      maxInflight: 5,
      backoff: { initialMs: 100, maxMs: 4000, jitter: 0.2 },
      log: pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) }),
      device: `${site}/${device}`,
    });
    p.start();
    release(`publisher ${i}`, () => p.stop());
    return { p, lines };
  });
  await until(() => agents.every((a) => a.lines.some((l) => l.includes('DRIFTLINE_ERR_DUPLICATE_DEVICE'))), 60_000, 'both agents to recognise the takeover');
  for (const a of agents) {
    const line = JSON.parse(a.lines.find((l) => l.includes('DRIFTLINE_ERR_DUPLICATE_DEVICE'))!) as { msg: string; device: string; level: number };
    assert.equal(line.level, 50, 'an error');
    assert.equal(line.device, `${site}/${device}`);
    assert.match(line.msg, /another client with its identity .* keeps taking over its broker session; two agents run as one device/);
  }
  // Backing off: the reconnect delay grows towards 4 s instead of restarting at 100 ms, so over the
  // next 8 s the two together connect far fewer times than the ~80 a 100 ms fight would make.
  const before = agents.reduce((n, a) => n + a.p.counters.connects, 0);
  await new Promise((r) => setTimeout(r, 8000));
  const during = agents.reduce((n, a) => n + a.p.counters.connects, 0) - before;
  assert.ok(during <= 12, `${during} connects in 8 s while backing off`);
});
