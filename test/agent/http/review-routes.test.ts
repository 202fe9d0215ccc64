/**
 * Review frames over HTTP: frames saved by the real sampler into a real SQLite store and folder,
 * served by the agent's fastify app (through inject): the list, a JPEG, its detections, names that
 * try to leave the folder, and who may read them (token, loopback, neither).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { corsOrigin, reviewAccess, type ReviewAccess } from '../../../agent/http/review-routes.js';
import { buildAgentHttp } from '../../../agent/http/server.js';
import { ReviewSampler, type ReviewFrame } from '../../../agent/review/sampler.js';
import { openDatabase } from '../../../agent/store/database.js';

const W = 64;
const H = 48;

function frame(i: number): ReviewFrame {
  const input = new Float32Array(3 * W * H).fill(0.5);
  return { cameraId: 1, cameraName: 'line-1', ts: 1_800_000_000_000 + i * 1000, frame: i, reason: 'uncertain', input, width: W, height: H, detections: [{ class: 'washer', score: 0.41, box: [16, 12, 48, 36] }], stats: { brightness: 80 + i } };
}

/** A store with three saved review frames, and an app over it with the given access. */
async function setup(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-review-http-'));
  const db = openDatabase(join(dir, 'agent.db'));
  t.after(() => db.close());
  db.prepare("INSERT INTO cameras (name) VALUES ('line-1')").run([]);
  const reviewDir = join(dir, 'agent.db.review');
  const sampler = new ReviewSampler(db, { dir: reviewDir, maxPerHour: 100, maxBytes: 1 << 20 });
  for (let i = 0; i < 3; i++) sampler.save(frame(i));
  await sampler.flush();
  const app = (access: ReviewAccess) => {
    const a = buildAgentHttp({ liveness: () => ({ wedged: [], message: '' }), readiness: () => ({ ready: true, reasons: [], checks: { model: { ok: true }, store: { ok: true }, mqtt: { ok: true, enabled: false } } }), metrics: new Registry(), review: { db, dir: reviewDir, access } });
    t.after(() => a.close());
    return a;
  };
  return { dir, reviewDir, app };
}

test('the list, a JPEG and its detections; names that would leave the folder, or are not indexed, are refused', async (t) => {
  const { dir, reviewDir, app: make } = await setup(t);
  const app = make({ kind: 'open' });
  const list = await app.inject('/review');
  assert.equal(list.statusCode, 200, list.body);
  const rows = list.json() as { id: number; file: string; camera: string; time: string; reason: string; image: string; detections: string; width: number }[];
  assert.deepEqual(rows.map((r) => r.file), ['line-1-1800000002000-2.jpg', 'line-1-1800000001000-1.jpg', 'line-1-1800000000000-0.jpg'], 'newest first');
  assert.deepEqual([rows[0]!.camera, rows[0]!.time, rows[0]!.reason, rows[0]!.width], ['line-1', '2027-01-15T08:00:02.000Z', 'uncertain', W]);
  const page = await app.inject('/review?limit=2');
  assert.equal(page.headers['x-next-before'], String(rows[1]!.id));
  assert.deepEqual((await app.inject(`/review?before=${rows[1]!.id}`)).json().map((r: { file: string }) => r.file), ['line-1-1800000000000-0.jpg']);
  assert.deepEqual((await app.inject('/review?camera=other')).json(), []);

  const jpeg = await app.inject(rows[0]!.image);
  assert.equal(jpeg.statusCode, 200);
  assert.equal(jpeg.headers['content-type'], 'image/jpeg');
  assert.match(String(jpeg.headers['cache-control']), /max-age=\d+, immutable/);
  assert.deepEqual([...jpeg.rawPayload.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG magic bytes');
  const det = await app.inject(rows[0]!.detections);
  assert.equal(det.statusCode, 200);
  assert.deepEqual(det.json().detections, [{ class: 'washer', score: 0.41, box: [16, 12, 48, 36] }]);
  assert.deepEqual([det.json().width, det.json().height, det.json().stats.brightness], [W, H, 82]);

  // Outside the folder, or in it but not a review frame the store knows.
  await writeFile(join(dir, 'secret.jpg'), 'not for you');
  await copyFile(join(reviewDir, rows[0]!.file), join(reviewDir, 'planted-1-1.jpg'));
  for (const url of ['/review/..%2Fsecret.jpg', '/review/%2e%2e%2fsecret.jpg', '/review/..%2F..%2F..%2Fetc%2Fpasswd', '/review/agent.db', '/review/.hidden.jpg']) {
    const r = await app.inject(url);
    assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
    assert.match(r.json().message, /must be a review frame file name/, url);
  }
  for (const url of ['/review/../secret.jpg', '/review/planted-1-1.jpg', '/review/planted-1-1.jpg/detections']) {
    const r = await app.inject(url);
    assert.equal(r.statusCode, 404, `${url}: ${r.body}`);
    assert.doesNotMatch(r.body, /not for you/);
  }
  for (const q of ['limit=0', 'limit=1001', 'limit=Infinity', 'limit=1e400', 'limit=5.5', 'before=-1', 'before=1e400', 'camera=a%20b']) {
    const bad = await app.inject(`/review?${q}`);
    assert.equal(bad.statusCode, 400, `${q}: ${bad.body}`);
    assert.match(bad.json().message, /^querystring\/(limit must be a whole number from 1 to 1000|before must be a review frame id|camera must be a camera name)/, q);
  }
});

test('access: open on loopback, a bearer token when one is set, off beyond loopback without one', async (t) => {
  const { app: make } = await setup(t);
  const file = '/review/line-1-1800000000000-0.jpg';
  const status = async (access: ReviewAccess, url: string, authorization?: string) => (await make(access).inject({ url, ...(authorization ? { headers: { authorization } } : {}) })).statusCode;

  assert.deepEqual(reviewAccess({ enabled: true, host: '127.0.0.1', token: '' }), { kind: 'open' });
  assert.deepEqual(reviewAccess({ enabled: true, host: '::1', token: '' }), { kind: 'open' });
  assert.deepEqual(reviewAccess({ enabled: true, host: '0.0.0.0', token: 's3cret' }), { kind: 'token', token: 's3cret' });
  const lan = reviewAccess({ enabled: true, host: '0.0.0.0', token: '' });
  assert.equal(lan.kind, 'off');
  assert.equal(reviewAccess({ enabled: true, host: '10.0.0.7', token: '' }).kind, 'off');

  assert.equal(await status({ kind: 'open' }, file), 200);
  const token = reviewAccess({ enabled: true, host: '127.0.0.1', token: 's3cret' });
  for (const url of ['/review', file, `${file}/detections`]) {
    assert.equal(await status(token, url), 401, url);
    assert.equal(await status(token, url, 'Bearer wrong'), 401, url);
    assert.equal(await status(token, url, 's3cret'), 401, `${url}: the Bearer scheme is required`);
    assert.equal(await status(token, url, 'Bearer s3cret'), 200, url);
  }
  const refused = await make(token).inject(file);
  assert.equal(refused.headers['www-authenticate'], 'Bearer realm="driftline review frames"');
  assert.match(refused.json().message, /Authorization: Bearer <http\.reviewToken>/);

  const off = await make(lan).inject(file);
  assert.equal(off.statusCode, 403);
  assert.match(off.json().message, /not served without a token .*http\.host "0\.0\.0\.0".*set http\.reviewToken/);
  assert.equal(await status(lan, file, 'Bearer anything'), 403, 'no token configured: no header opens it');
  const disabled = await make(reviewAccess({ enabled: false, host: '127.0.0.1', token: '' })).inject('/review');
  assert.equal(disabled.statusCode, 404);
  assert.match(disabled.json().message, /review\.enabled: false/);
  // Health and metrics are never behind the review token.
  assert.equal((await make(token).inject('/healthz')).statusCode, 200);
});

test('CORS for the collector\'s page: GET and its preflight; any origin with a token, loopback origins only without one', async (t) => {
  const { app: make } = await setup(t);
  const file = '/review/line-1-1800000000000-0.jpg';
  const page = 'http://127.0.0.1:8080';
  const open = make({ kind: 'open' });
  for (const url of ['/review', file, `${file}/detections`]) {
    const r = await open.inject({ url, headers: { origin: page } });
    assert.equal(r.statusCode, 200, url);
    assert.equal(r.headers['access-control-allow-origin'], page, `${url}: a loopback page may read it`);
    assert.equal(r.headers.vary, 'Origin');
  }
  const foreign = await open.inject({ url: file, headers: { origin: 'https://evil.example' } });
  assert.equal(foreign.statusCode, 200, 'served (a plain <img> could show it), but ...');
  assert.equal(foreign.headers['access-control-allow-origin'], undefined, '... no page of another site may read it');
  assert.equal((await open.inject(file)).headers['access-control-allow-origin'], undefined, 'no Origin, no CORS header');

  // With a token: the preflight (no token on it) says a GET may carry Authorization; the GET needs the token.
  const token = make({ kind: 'token', token: 's3cret' });
  const pre = await token.inject({ method: 'OPTIONS', url: `${file}/detections`, headers: { origin: 'http://collector.plant.local:8080', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization', 'access-control-request-private-network': 'true' } });
  assert.equal(pre.statusCode, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET');
  assert.equal(pre.headers['access-control-allow-headers'], 'Authorization');
  assert.equal(pre.headers['access-control-allow-private-network'], 'true');
  const refused = await token.inject({ url: file, headers: { origin: 'http://collector.plant.local:8080' } });
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.headers['access-control-allow-origin'], '*', 'the page can read why');
  const got = await token.inject({ url: file, headers: { origin: 'http://collector.plant.local:8080', authorization: 'Bearer s3cret' } });
  assert.equal(got.statusCode, 200);
  assert.equal(got.headers['access-control-allow-origin'], '*');
  assert.equal((await token.inject({ method: 'OPTIONS', url: '/healthz' })).statusCode, 404, 'only the review routes answer a preflight');

  assert.equal(corsOrigin({ kind: 'open' }, 'http://localhost:3000'), 'http://localhost:3000');
  assert.equal(corsOrigin({ kind: 'open' }, 'http://[::1]:8080'), 'http://[::1]:8080');
  assert.equal(corsOrigin({ kind: 'open' }, 'http://10.0.0.7:8080'), undefined);
  assert.equal(corsOrigin({ kind: 'open' }, 'null'), undefined);
});
