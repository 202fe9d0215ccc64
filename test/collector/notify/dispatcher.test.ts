import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { AlertmanagerSink } from '../../../collector/notify/alertmanager.js';
import { Dispatcher } from '../../../collector/notify/dispatcher.js';
import { verify, WebhookSink } from '../../../collector/notify/webhook.js';
import type { AlertRecord } from '../../../collector/store/store.js';
import { silentLogger } from '../../../lib/log.js';
import { check, SCHEMAS } from '../../../protocol/messages.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

const alert = (id: string, state: 'firing' | 'resolved' = 'firing'): AlertRecord => ({
  schema: SCHEMAS.alert, id, fingerprint: `drift/s/d/${id}`, rule: 'drift', state, severity: 'warning',
  labels: { alertname: 'DriftlineDrift', severity: 'warning', site: 's', device: 'd', camera: 'c' },
  annotations: { summary: 'x', description: 'y', runbook_url: 'docs/runbook.md#drift' },
  startsAt: '2026-11-28T10:00:00.000Z', updatedAt: '2026-11-28T10:00:00.000Z',
  ...(state === 'resolved' ? { endsAt: '2026-11-28T10:05:00.000Z' } : {}),
  evidence: { cause: { class: 'input-drift', reason: 'dim' } },
});

/**
 * A receiver that fails the first `failures` requests with 503, then records bodies and headers;
 * `attempts` holds the arrival time of every request, failed or not.
 */
async function receiver(failures: number): Promise<{ url: string; got: { body: string; headers: IncomingMessage['headers'] }[]; attempts: number[]; close(): Promise<void> }> {
  const got: { body: string; headers: IncomingMessage['headers'] }[] = [];
  const attempts: number[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    attempts.push(performance.now());
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      if (n++ < failures) {
        res.writeHead(503).end('busy');
        return;
      }
      got.push({ body, headers: req.headers });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    attempts,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections(); // the sink's keep-alive connection
      }),
  };
}

const BACKOFF = { initialMs: 20, maxMs: 100, jitter: 0 };

test('webhook: signed alert, retried with backoff through failures, delivered in order', async (t) => {
  const release = releaser(t);
  const r = await receiver(3);
  release('receiver', () => r.close());
  // A request timeout well past any stall of a busy machine: a late answer must not count as one more failure.
  const d = new Dispatcher([new WebhookSink(r.url, 's3cret', 20_000)], { maxQueue: 100, backoff: BACKOFF, log: silentLogger });
  release('dispatcher', () => d.close(0));
  const ids = ['a1', 'a2', 'a3'];
  for (const id of ids) d.push(alert(id), 'fire');
  await until(() => r.got.length === ids.length && d.stats.webhook!.sent === ids.length, 30_000, 'every delivery, and their answers');
  assert.equal(d.stats.webhook!.failed, 3);
  assert.equal(d.stats.webhook!.sent, ids.length);
  const bodies = r.got.map((g) => JSON.parse(g.body) as { id: string });
  assert.deepEqual(bodies.map((b) => b.id), ids, 'order kept through the retries: the later alerts waited behind the first');
  // The first alert was tried 4 times (3 failures, then delivered), the waits doubling from initialMs.
  assert.equal(r.attempts.length, 3 + ids.length);
  const gaps = r.attempts.slice(1, 4).map((at, i) => at - r.attempts[i]!);
  gaps.forEach((gap, i) => {
    const delay = Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** i);
    assert.ok(gap >= delay - 2, `retry ${i + 1} waited ${gap.toFixed(1)} ms, backoff says ${delay} ms (gaps ${gaps.map((g) => g.toFixed(1)).join(', ')})`);
  });
  const [first] = r.got;
  const body = JSON.parse(first!.body);
  assert.ok(check(body, SCHEMAS.alert).ok, 'the body is a driftline.alert/1');
  assert.equal(body.fingerprint, undefined, 'store bookkeeping is not sent');
  const ts = first!.headers['x-driftline-timestamp'] as string;
  const sig = first!.headers['x-driftline-signature'] as string;
  assert.ok(verify('s3cret', ts, first!.body, sig), 'the receiver can verify the signature');
  assert.ok(!verify('wrong', ts, first!.body, sig));
  assert.ok(!verify('s3cret', ts, first!.body.replace('a1', 'a9'), sig), 'a changed body fails');
  assert.ok(!verify('s3cret', String(Number(ts) - 3600), first!.body, sig), 'an old timestamp fails');
});

test('dispatcher: push never waits on a dead sink; a newer state replaces a queued one; the queue is bounded', async (t) => {
  const d = new Dispatcher([new WebhookSink('http://127.0.0.1:9/unreachable', 'k', 200)], { maxQueue: 3, backoff: { initialMs: 10_000, maxMs: 10_000, jitter: 0 }, log: silentLogger });
  t.after(() => d.close(0));
  for (let i = 0; i < 10; i++) d.push(alert(`x${i}`), 'fire'); // synchronous: queued, never awaited
  d.push(alert('x9', 'resolved'), 'resolve');
  await until(() => d.stats.webhook!.failed >= 1, 20_000, 'the first attempt to fail');
  assert.equal(d.stats.webhook!.queued, 3);
  assert.equal(d.stats.webhook!.dropped, 7, 'x0 is in delivery; x1..x7 were dropped for x8 and x9, whose resolve replaced its firing state');
});

test('Alertmanager body: labels, annotations with cause and id, endsAt only when resolved', () => {
  const f = AlertmanagerSink.body(alert('a1'), 'http://collector:8080');
  assert.deepEqual(Object.keys(f).sort(), ['annotations', 'generatorURL', 'labels', 'startsAt']);
  assert.equal((f.annotations as Record<string, string>).cause, 'input-drift: dim');
  assert.equal(f.generatorURL, 'http://collector:8080/alerts/a1');
  assert.equal(AlertmanagerSink.body(alert('a1', 'resolved'), '').endsAt, '2026-11-28T10:05:00.000Z');
});

test('dispatcher: abandon drops what waits to be retried, and nothing is sent after it', async (t) => {
  const release = releaser(t);
  const r = await receiver(1_000_000); // fails every request
  release('receiver', () => r.close());
  // A long backoff: after the first failure, a1 waits 30 s for its retry, a2 and a3 behind it (longer
  // than any stall of a busy machine between that failure and the abandon).
  const d = new Dispatcher([new WebhookSink(r.url, 'k', 20_000)], { maxQueue: 100, backoff: { initialMs: 30_000, maxMs: 30_000, jitter: 0 }, log: silentLogger });
  release('dispatcher', () => d.close(0));
  for (const id of ['a1', 'a2', 'a3']) d.push(alert(id), 'fire');
  await until(() => d.stats.webhook!.failed === 1, 20_000, 'the first try of a1 to fail');
  assert.equal(d.abandon(), 3, 'a1 waiting for its retry, a2 and a3 behind it');
  assert.equal(d.stats.webhook!.queued, 0);
  // The abandon wakes the waiting lane: had anything been left queued, it would be tried at once.
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.attempts.length, 1, 'no retry after the abandon');
  d.push(alert('a4'), 'fire'); // a dispatcher that abandoned its queue still works
  await until(() => r.attempts.length === 2, 20_000, 'a4 tried');
});

test('dispatcher: a send under way when abandon comes is not retried if it fails', async (t) => {
  const release = releaser(t);
  let requests = 0;
  // Answers every request with 503 after 300 ms: the abandon comes while the first is in flight.
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    setTimeout(() => res.writeHead(503).end('busy'), 300);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  release('server', () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())));
  const d = new Dispatcher([new WebhookSink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, 'k', 2000)], { maxQueue: 100, backoff: BACKOFF, log: silentLogger });
  release('dispatcher', () => d.close(0));
  d.push(alert('b1'), 'fire');
  await until(() => requests === 1, 20_000, 'the send to be under way');
  assert.equal(d.abandon(), 0, 'nothing queued behind it');
  await until(() => d.stats.webhook!.failed === 1, 20_000, 'the send to fail');
  await new Promise((res) => setTimeout(res, 10 * BACKOFF.maxMs));
  assert.equal(requests, 1, 'not retried');
  assert.equal(d.stats.webhook!.queued, 0);
});
