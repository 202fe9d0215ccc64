/**
 * Fault: the camera, not the network. A real `driftline agent` watches five network cameras, each a
 * real ffmpeg serving MJPEG over HTTP (`-listen 1`) from frames of the synthetic line, and
 * publishes through a private Mosquitto to a collector. At the same time, one camera each:
 *
 *   gone    its ffmpeg is killed (nothing listens on its port), then served again;
 *   hang    its ffmpeg is stopped (SIGSTOP: the connection stays open, no bytes), then continued;
 *   flap    goes away and comes back FLAPS times, quickly;
 *   frozen  delivers one frame over and over from FREEZE_AFTER_S on (ffmpeg's freezeframes);
 *   resize  changes resolution every second (800x600, then 120x160, and again), mid-stream.
 *
 * What each does is checked where on-call sees it: the events and summaries the collector stored,
 * and its alerts (HTTP API). The agent runs through all of it, and at the end every summary it
 * committed is at the collector once (the accounting line).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { cli } from '../helpers/cli.js';
import { testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { freePort, releaser } from '../helpers/ports.js';
import { sleep } from '../helpers/wait.js';
import { account, report, untilAllStored } from './accounting.js';
import { agentSetup, startAgent, storedCounts, untilAsync } from './processes.js';

const sh = promisify(execFile);
/** Each camera's frame rate, and the agent's telemetry window. */
const FPS = 8;
const WINDOW_S = 3;
/** The agent's stall timeout for these cameras (stallSeconds). */
const STALL_S = 5;
/** The collector's camera-stalled rule: no summary for this many windows. */
const STALLED_WINDOWS = 3;
const FREEZE_AFTER_S = 10;
const FLAPS = 6;

/**
 * A network camera: a real ffmpeg serving MJPEG over HTTP from `input` at its native rate. `-listen
 * 1` serves one client and exits when it leaves; the camera then serves again (a camera outlives
 * its viewers), until the test takes it away.
 */
class NetworkCamera {
  private proc: ChildProcess | undefined;
  private serving = false;
  /** The end of what the serving ffmpeg said, for failure messages. */
  log = '';

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly input: readonly string[],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/${this.name}.mjpg`;
  }

  up(): void {
    this.serving = true;
    this.spawn();
  }

  private spawn(): void {
    const p = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', ...this.input, '-f', 'mpjpeg', '-listen', '1', this.url], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    p.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-2000)));
    p.once('exit', () => {
      if (this.proc !== p) return;
      this.proc = undefined;
      if (this.serving) setTimeout(() => this.serving && !this.proc && this.spawn(), 100);
    });
  }

  /** The camera is gone: its ffmpeg is killed (SIGKILL) and nothing listens on its port until up(). */
  async down(): Promise<void> {
    this.serving = false;
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  /** The camera hangs: its ffmpeg stops (SIGSTOP), the connection stays open and silent. */
  hang(): void {
    this.proc?.kill('SIGSTOP');
  }

  /** ... and goes on (SIGCONT). */
  unhang(): void {
    this.proc?.kill('SIGCONT');
  }
}

/** Frames of the synthetic line (320x240 JPEGs), and the same frames alternating between two other sizes every second. */
async function media(dir: string): Promise<{ moving: string; resizing: string }> {
  const r = await cli('synth', '--out', join(dir, 'synth'), '--count', '40', '--seed', '7', '--size', '320x240', '--val', '0');
  assert.equal(r.code, 0, r.stderr);
  const moving = join(dir, 'synth', 'images', 'train', '%06d.jpg');
  const sizes = ['800:600', '120:160'];
  for (const [i, size] of sizes.entries()) {
    await mkdir(join(dir, `size${i}`));
    await sh('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', moving, '-vf', `scale=${size}`, '-q:v', '3', join(dir, `size${i}`, '%06d.jpg')]);
  }
  await mkdir(join(dir, 'resizing'));
  const names = (await readdir(join(dir, 'size0'))).sort();
  for (const [i, n] of names.entries()) await copyFile(join(dir, `size${Math.floor(i / FPS) % 2}`, n), join(dir, 'resizing', n));
  return { moving, resizing: join(dir, 'resizing', '%06d.jpg') };
}

interface StoredEvent {
  camera: string;
  kind: string;
  seq: number;
  received: number;
  message: string;
}
interface Alert {
  id: string;
  rule: string;
  state: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: { summary: string };
  evidence?: { cause?: { class: string; fault?: string; reason: string } };
  startsAt: string;
  endsAt?: string;
}

test('camera faults (gone, hung, flapping, frozen, resized): the agent runs on, the collector sees each one, every summary stored once', { timeout: 420_000, concurrency: true }, async (t) => {
  const t0 = Date.now();
  const release = releaser(t);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-fault-camera-'));
  const { moving, resizing } = await media(dir);
  const loop = ['-loop', '1', '-framerate', String(FPS)];
  const freeze = FREEZE_AFTER_S * FPS;
  const inputs: Record<string, string[]> = {
    gone: [...loop, '-i', moving, '-c:v', 'copy'],
    hang: [...loop, '-i', moving, '-c:v', 'copy'],
    flap: [...loop, '-i', moving, '-c:v', 'copy'],
    frozen: [...loop, '-i', moving, '-filter_complex', `[0:v]split[a][b];[a][b]freezeframes=first=${freeze}:last=2000000000:replace=${freeze}`, '-c:v', 'mjpeg', '-q:v', '3'],
    resize: [...loop, '-i', resizing, '-c:v', 'copy'],
  };
  const cams: Record<string, NetworkCamera> = {};
  for (const [name, input] of Object.entries(inputs)) {
    const cam = new NetworkCamera(name, await freePort(), input);
    release(`camera ${name}`, () => cam.down());
    cam.up();
    cams[name] = cam;
  }

  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url, sessionExpirySeconds: 600 }, rules: { driftForSeconds: 0, stalledWindows: STALLED_WINDOWS } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const site = uniqueName('site');
  const device = uniqueName('fault-camera');
  const sources = Object.fromEntries(Object.values(cams).map((c) => [c.name, { kind: 'ffmpeg', url: c.url, width: 320, height: 240, stallSeconds: STALL_S }]));
  // drift.minFrames: a window of WINDOW_S at FPS is scored (the frozen check wants 10 frames or more).
  const setup = await agentSetup(dir, { url: broker.url, site, device, windowSeconds: WINDOW_S, sources, drift: { minFrames: 10 } });
  const agent = startAgent(release, 'agent', setup);
  // What the agent says about each camera's source (its JSON log): state changes and errors.
  const SOURCE_NEWS = /^camera \S+ (connecting|streaming|stalled|backoff|ended|stopped|error)$/;
  const said: { at: number; camera: string; msg: string }[] = [];
  let partial = '';
  agent.proc.stderr!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      try {
        const j = JSON.parse(l) as { camera?: string; msg?: string; reason?: string };
        if (j.camera && SOURCE_NEWS.test(j.msg ?? '')) said.push({ at: Date.now(), camera: j.camera, msg: j.reason ? `${j.msg}: ${j.reason}` : (j.msg ?? '') });
      } catch {
        // not a log line
      }
    }
  });
  const stored = (): Record<string, number> => storedCounts(collector.store.file, site, device);
  const running = (): void => assert.equal(agent.proc.exitCode, null, `the agent is running; it said: ${agent.stderr()}`);
  const events = (camera: string, since = 0): StoredEvent[] => {
    const db = new Database(collector.store.file, { readonly: true });
    try {
      const rows = db.prepare('SELECT camera, kind, seq, received_ts AS received, payload FROM events WHERE site = ? AND device = ? AND camera = ? AND received_ts >= ? ORDER BY seq').all([site, device, camera, since]) as (StoredEvent & { payload: string })[];
      return rows.map((r) => ({ camera: r.camera, kind: r.kind, seq: r.seq, received: r.received, message: (JSON.parse(r.payload) as { message: string }).message }));
    } finally {
      db.close();
    }
  };
  const alerts = async (camera: string, rule: string): Promise<Alert[]> => {
    const all = (await (await fetch(`${collector.httpUrl}/api/v1/alerts?state=all&limit=1000`)).json()) as Alert[];
    return all.filter((a) => a.rule === rule && a.labels.device === device && a.labels.camera === camera);
  };
  const kinds = (e: StoredEvent[]): string => e.map((x) => `${x.kind} (${x.message})`).join('; ') || 'none';
  const agentSaid = (camera: string, since = t0): string =>
    said
      .filter((s) => s.camera === camera && s.at >= since)
      .map((s) => `+${((s.at - since) / 1000).toFixed(1)} s ${s.msg}`)
      .join('; ') || 'nothing';

  await untilAsync(() => setup.cameras.every((c) => (stored()[c] ?? 0) >= 2), 120_000, 'two summaries from every camera', () => `stored ${JSON.stringify(stored())}; the agent said: ${agent.stderr()}`);
  t.diagnostic(`warm after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const scenarios = [
    t.test('gone: the camera disappears; the collector raises camera-stalled, and resolves it when it is back', async (s) => {
      const cam = cams.gone!;
      const since = Date.now();
      await cam.down();
      await untilAsync(async () => (await alerts('gone', 'cameraStalled')).some((a) => a.state === 'firing'), 60_000, 'the cameraStalled alert', () => `events: ${kinds(events('gone', since))}`);
      const firing = (await alerts('gone', 'cameraStalled')).find((a) => a.state === 'firing')!;
      const before = stored().gone ?? 0;
      running();
      cam.up();
      await untilAsync(async () => (await alerts('gone', 'cameraStalled')).find((a) => a.id === firing.id)?.state === 'resolved', 90_000, 'the alert to resolve once the camera is back', () => `agent: ${agentSaid('gone', since)}; camera: ${cam.log}`);
      await untilAsync(() => (stored().gone ?? 0) >= before + 2, 60_000, 'summaries again');
      running();
      const ev = events('gone', since);
      s.diagnostic(`alert: "${firing.annotations.summary}"; events: ${kinds(ev)}; agent: ${agentSaid('gone', since)}`);
      // docs/mqtt.md: "stalled: the camera delivered no frame within its stall timeout. resumed: frames again after a stall."
      await s.test('the agent reported it: a stalled event, then resumed', () => {
        const stall = ev.findIndex((e) => e.kind === 'stalled');
        assert.ok(stall >= 0, `a stalled event for a camera that delivered no frame for ${((Date.now() - since) / 1000).toFixed(0)} s; events: ${kinds(ev)}`);
        assert.ok(ev.slice(stall).some((e) => e.kind === 'resumed'), `... and resumed once it delivered again; events: ${kinds(ev)}`);
      });
    }),

    t.test('hang: the camera stops sending on an open connection; stalled, the alert, then resumed and resolved', async (s) => {
      const cam = cams.hang!;
      const since = Date.now();
      cam.hang();
      await untilAsync(() => events('hang', since).some((e) => e.kind === 'stalled'), 60_000, 'a stalled event', () => `agent: ${agentSaid('hang', since)}`);
      await untilAsync(async () => (await alerts('hang', 'cameraStalled')).some((a) => a.state === 'firing'), 30_000, 'the cameraStalled alert');
      const firing = (await alerts('hang', 'cameraStalled')).find((a) => a.state === 'firing')!;
      running();
      cam.unhang();
      await untilAsync(() => events('hang', since).some((e) => e.kind === 'resumed'), 90_000, 'a resumed event', () => `agent: ${agentSaid('hang', since)}; camera: ${cam.log}`);
      await untilAsync(async () => (await alerts('hang', 'cameraStalled')).find((a) => a.id === firing.id)?.state === 'resolved', 30_000, 'the alert to resolve');
      running();
      s.diagnostic(`alert: "${firing.annotations.summary}"; events: ${kinds(events('hang', since))}; agent: ${agentSaid('hang', since)}`);
    }),

    t.test(`flap: the camera goes and comes back ${FLAPS} times; the agent runs on, events stay bounded, summaries keep flowing`, async (s) => {
      const cam = cams.flap!;
      const since = Date.now();
      const before = stored().flap ?? 0;
      for (let i = 0; i < FLAPS; i++) {
        await cam.down();
        await sleep(1500);
        cam.up();
        await sleep(3000);
        running();
      }
      const flapped = Date.now() - since;
      const during = (stored().flap ?? 0) - before;
      // Summaries keep flowing: more windows after the flapping.
      const after = stored().flap ?? 0;
      await untilAsync(() => (stored().flap ?? 0) >= after + 2, 90_000, 'summaries after the flapping', () => `agent: ${agentSaid('flap', since)}`);
      running();
      const ev = events('flap', since);
      const count = (k: string): number => ev.filter((e) => e.kind === k).length;
      s.diagnostic(`${FLAPS} flaps in ${(flapped / 1000).toFixed(0)} s: ${during} summaries stored meanwhile; events: ${kinds(ev)}; agent: ${agentSaid('flap', since)}`);
      // docs/mqtt.md: sourceError "at most one per camera per minute".
      const span = Date.now() - since;
      assert.ok(count('sourceError') <= Math.floor(span / 60_000) + 1, `at most one sourceError a minute: ${count('sourceError')} in ${(span / 1000).toFixed(0)} s`);
      assert.ok(count('stalled') <= FLAPS && count('resumed') <= FLAPS, `at most one stall and one resume per flap: ${kinds(ev)}`);
    }),

    t.test('frozen: one frame over and over; the collector calls it a camera fault, frozen', async (s) => {
      // A drift alert for the camera whose evidence (that of its latest bad window) says frozen.
      let last: Alert | undefined;
      await untilAsync(
        async () => {
          last = (await alerts('frozen', 'drift')).find((a) => a.state === 'firing');
          return last?.evidence?.cause?.fault === 'frozen';
        },
        90_000,
        'a drift alert on the frozen camera, classified camera-fault/frozen',
        () => `the alert: ${JSON.stringify(last?.evidence?.cause ?? 'none')}; windows: ${timeline('frozen')}`,
      );
      assert.equal(last!.evidence!.cause!.class, 'camera-fault');
      s.diagnostic(`"${last!.annotations.summary}"; cause: ${last!.evidence!.cause!.reason}; windows: ${timeline('frozen')}`);
      // Only the frozen camera is frozen: the moving ones are never called that.
      for (const other of ['flap', 'resize']) {
        for (const a of await alerts(other, 'drift')) assert.notEqual(a.evidence?.cause?.fault, 'frozen', `camera ${other} moves: ${a.annotations.summary}`);
      }
    }),

    t.test('resize: the resolution changes mid-stream every second; frames keep the configured size, summaries continue, no error', async (s) => {
      const since = Date.now();
      const from = stored().resize ?? 0;
      await untilAsync(() => (stored().resize ?? 0) >= from + 8, 90_000, '8 more windows of the resizing camera');
      running();
      const windows = summaries('resize');
      s.diagnostic(`windows (frames+dropped): ${windows.map((w) => w.frames + w.dropped).join(' ')}; agent: ${agentSaid('resize')}`);
      // Frames reach the pipeline as 320x240 RGB, cut from ffmpeg's output every 320x240x3 bytes.
      // Were a frame passed on at its own size, an 800x600 one would make 6.25 of them and a 120x160
      // one a quarter: 26 a second instead of FPS. Each window holds FPS a second (with room for
      // a late one), and so do all of them together.
      const most = FPS * WINDOW_S * 2 + 4;
      for (const w of windows) {
        assert.ok(w.frames + w.dropped <= most, `window seq ${w.seq}: ${w.frames} frames + ${w.dropped} dropped in ${((w.end - w.start) / 1000).toFixed(1)} s: more than ${most}`);
        assert.equal(w.errors, 0, `window seq ${w.seq}: no frame failed`);
      }
      const full = windows.slice(1, -1);
      const rate = full.reduce((n, w) => n + w.frames + w.dropped, 0) / full.reduce((n, w) => n + (w.end - w.start) / 1000 + 1 / FPS, 0);
      assert.ok(rate > FPS / 2 && rate < FPS * 1.5, `${rate.toFixed(1)} frames a second over the windows, the camera sends ${FPS}`);
      assert.ok(windows.slice(-6).every((w) => w.frames > 0));
      // The source never restarted: no state change and no error after it first streamed.
      const first = said.findIndex((x) => x.camera === 'resize' && / streaming$/.test(x.msg));
      assert.ok(first >= 0, 'the camera streamed');
      assert.deepEqual(said.slice(first + 1).filter((x) => x.camera === 'resize').map((x) => x.msg), [], 'nothing to report about the camera after it started streaming');
      assert.equal(kinds(events('resize', since)), 'none', 'no event about the camera');
    }),
  ];
  // The latest windows of a camera at the collector (seq:verdict/frames), for messages.
  function timeline(camera: string): string {
    return summaries(camera)
      .slice(-12)
      .map((w) => `${w.seq}:${w.status}/${w.frames}`)
      .join(' ');
  }
  function summaries(camera: string): { seq: number; start: number; end: number; status: string; frames: number; dropped: number; errors: number }[] {
    const db = new Database(collector.store.file, { readonly: true });
    try {
      return (db.prepare('SELECT payload FROM summaries WHERE site = ? AND device = ? AND camera = ? ORDER BY seq').all([site, device, camera]) as { payload: string }[]).map((r) => JSON.parse(r.payload));
    } finally {
      db.close();
    }
  }
  await Promise.allSettled(scenarios);

  running();
  await agent.stop();
  assert.equal(await agent.exited, 0, `a clean stop; it said: ${agent.stderr()}`);
  const of = { agentDb: setup.db, collectorDb: collector.store.file, site, device, cameras: setup.cameras };
  await untilAllStored(of);
  const drift = (await Promise.all(setup.cameras.map(async (c) => (await alerts(c, 'drift')).map((a) => `${a.state} "${a.annotations.summary.replace(`${site}/${device}/`, '')}"`)))).flat();
  report(t, account(of), `drift alerts: ${drift.join('; ') || 'none'}; took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});
