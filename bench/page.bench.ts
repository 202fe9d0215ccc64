/**
 * The collector's page at fleet scale (issue 14): 200 devices x 4 cameras with 24 h of 5-minute
 * windows (230,400 full-size summaries, as the agent builds them), seeded through the store's API in
 * one transaction; the collector's HTTP on that store; Debian's Chromium (playwright-core), a fresh
 * context each time (nothing cached), measuring from navigation to both the fleet table and one
 * drifting camera's timeline rendered, read from the page's own performance marks.
 * Baseline, in the same run: the bare API, the five requests the page makes (devices, cameras,
 * firing alerts, the camera, its timeline), fetched in parallel from Node and parsed.
 * Target: under 1 s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Registry } from 'prom-client';
import { PROFILE_FEATURES } from '../agent/drift/profile-schema.js';
import { summary, type Identity } from '../agent/publish/messages.js';
import { buildHttp } from '../collector/http/server.js';
import { RuleEngine } from '../collector/rules/engine.js';
import { SqliteStore } from '../collector/store/sqlite-store.js';
import type { AlertRecord } from '../collector/store/store.js';
import { SCHEMAS, type SummaryMessage } from '../protocol/messages.js';
import { driftResult } from './fleet.js';
import { header, line, ratio } from './harness.js';

const SITES = 4;
const DEVICES = 200;
const CAMERAS = 4;
const WINDOW_MS = 5 * 60_000;
const WINDOWS = (24 * 3_600_000) / WINDOW_MS; // 288
const SHA = 'c'.repeat(64);
const CHROMIUM = { executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] };

const site = (d: number): string => `plant-${d % SITES}`;
const device = (d: number): string => `edge-${String(d).padStart(3, '0')}`;
/** Every 20th camera drifts for its last two hours (40 cameras), with a firing alert. */
const drifts = (d: number, c: number): boolean => (d * CAMERAS + c) % 20 === 7;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A full-size summary as text, with its numbers to fill in: seq, times, verdict, family scores. */
function template(id: Identity, camera: string, status: 'ok' | 'warn' | 'alert'): (seq: number, end: number, level: number) => string {
  const r = driftResult(status === 'ok' ? 'ok' : 'alert');
  const result = { ...r, severity: status, drivers: status === 'ok' ? [] : r.drivers.map((x) => ({ ...x, level: status })) };
  const window = {
    startTs: 111_111_111_111,
    endTs: 222_222_222_222,
    frames: 9000,
    features: Object.fromEntries(PROFILE_FEATURES.map((f, i) => [f, { mean: 100 + i, std: 3.5, min: 90 + i, max: 110 + i }])),
    classCounts: { good: 8900, scratch: 70, missing_notch: 30 },
    confHist: Object.fromEntries(['good', 'scratch', 'missing_notch'].map((k) => [k, Array.from({ length: 20 }, (_, i) => (i * 7) % 13)])),
    latencyMs: Object.fromEntries(['preprocess', 'inference', 'postprocess'].map((s) => [s, { p50: 1.1, p95: 1.9, p99: 2.4, max: 3.2 }])),
  };
  const text = JSON.stringify(
    summary(id, { camera, window, dropped: 0, errors: 0, drift: result, familyScores: { illumination: 333.333, colour: 0.2, focus: 0.3, geometry: 0.1, model: 0.4 }, reference: Object.fromEntries(PROFILE_FEATURES.map((f) => [f, { mean: 100, std: 5 }])) }, 999_999_999),
  );
  return (seq, end, level) => text.replace('"seq":999999999', `"seq":${seq}`).replace('111111111111', String(end - WINDOW_MS)).replace('222222222222', String(end)).replace('333.333', level.toFixed(3));
}

function seed(store: SqliteStore, now: number): { summaries: number; alerts: number; drifting: { site: string; device: string; camera: string } } {
  let summaries = 0;
  let alerts = 0;
  let drifting: { site: string; device: string; camera: string } | undefined;
  store.beginBatch();
  for (let d = 0; d < DEVICES; d++) {
    const cameras = Array.from({ length: CAMERAS }, (_, c) => `cam-${c}`);
    const id: Identity = { site: site(d), device: device(d), version: '0.1.0', model: { name: 'line-detector.onnx', sha256: SHA }, provider: d % 10 === 3 ? 'cpu' : 'tensorrt', providers: ['tensorrt', 'cpu'], cameras, windowSeconds: WINDOW_MS / 1000 };
    store.putStatus({ schema: SCHEMAS.status, site: id.site, device: id.device, state: d % 50 === 9 ? 'offline' : 'online', ts: now, agent: { version: id.version }, model: id.model, provider: id.provider, providers: [...id.providers], cameras, windowSeconds: id.windowSeconds }, now);
    for (const [c, camera] of cameras.entries()) {
      const drift = drifts(d, c);
      const make = { ok: template(id, camera, 'ok'), warn: template(id, camera, 'warn'), alert: template(id, camera, 'alert') };
      let firstBad: { seq: number; start: number } | undefined;
      for (let k = 0; k < WINDOWS; k++) {
        const seq = k + 1;
        const end = now - (WINDOWS - 1 - k) * WINDOW_MS;
        const left = WINDOWS - k; // windows until the latest, 1 for the latest
        const status = drift && left <= 24 ? (left <= 16 ? 'alert' : 'warn') : 'ok';
        const level = status === 'ok' ? 0.2 + 0.5 * Math.abs(Math.sin(seq + d + c)) : status === 'warn' ? 1.3 : 2 + (24 - left) * 0.4;
        if (status !== 'ok' && !firstBad) firstBad = { seq, start: end - WINDOW_MS };
        const m = { site: id.site, device: id.device, camera, seq, start: end - WINDOW_MS, end, status, frames: 9000 } as SummaryMessage;
        store.addSummary(m, end + 500, make[status](seq, end, level));
        summaries++;
      }
      if (!drift || !firstBad) continue;
      drifting ??= { site: id.site, device: id.device, camera };
      const labels = { alertname: 'DriftlineDrift', severity: 'critical', site: id.site, device: id.device, camera, model: `line-detector.onnx@${SHA.slice(0, 12)}`, feature: 'illumination' };
      const at = (ms: number): string => new Date(ms).toISOString();
      const base = { schema: SCHEMAS.alert, rule: 'drift', severity: 'critical' as const, labels, annotations: { summary: `${id.site}/${id.device}/${camera}: illumination: brightness -41% (z = -23.0); input drift for 1 h`, description: 'bench', runbook_url: 'http://127.0.0.1/runbook#drift' } };
      const evidence = (seq: number, start: number) => ({
        window: { seq: WINDOWS, start: at(now - WINDOW_MS), end: at(now), frames: 9000, status: 'alert' },
        drivers: [{ key: 'psi:brightness', value: 0.8, warn: 0.3, alert: 0.4, level: 'alert' }],
        shifts: [{ feature: 'brightness', z: -23, mean: 60 }],
        reviewFrames: [],
        cause: { class: 'input-drift', reason: 'the input moved away from the reference', action: 'data science: look at the review frames' },
        driftStart: { seq, start: at(start) },
      });
      const firing: AlertRecord = { ...base, id: (d * CAMERAS + c).toString(16).padStart(16, 'a'), fingerprint: `drift/${id.site}/${id.device}/${camera}`, state: 'firing', startsAt: at(firstBad.start + 2 * WINDOW_MS), updatedAt: at(now), evidence: evidence(firstBad.seq, firstBad.start) };
      const earlier: AlertRecord = { ...base, id: (d * CAMERAS + c).toString(16).padStart(16, 'b'), fingerprint: firing.fingerprint, state: 'resolved', startsAt: at(now - 20 * 3_600_000), endsAt: at(now - 19 * 3_600_000), updatedAt: at(now - 19 * 3_600_000), evidence: evidence(50, now - 20.2 * 3_600_000) };
      store.saveAlert(earlier);
      store.saveAlert(firing);
      alerts += 2;
    }
  }
  store.commitBatch();
  store.flush();
  return { summaries, alerts, drifting: drifting! };
}

export async function bench(seconds: number): Promise<void> {
  header(`collector page: ${DEVICES} devices x ${CAMERAS} cameras, 24 h of 5-minute windows, in Chromium`);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-page-'));
  const store = new SqliteStore(join(dir, 'collector.db'));
  const now = Date.now();
  const t0 = performance.now();
  const seeded = seed(store, now);
  line('seeded through the store API (one transaction)', `${seeded.summaries} summaries, ${seeded.alerts} alerts in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const rules = new RuleEngine(store, { driftForMs: 0, driftClearMs: 0, driftMinSeverity: 'warn', offlineSilenceMs: 1e12, stalledWindows: 3, modelChangedHoldMs: 1e12, resendMs: 1e12, runbookUrl: '' }, () => undefined);
  const app = buildHttp({ store, rules, metrics: new Registry(), ackToken: '', health: () => ({ broker: true }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const cam = seeded.drifting;
  const camApi = `/api/v1/cameras/${cam.site}/${cam.device}/${cam.camera}`;
  const browser = await chromium.launch(CHROMIUM);
  try {
    // Baseline: the page's five requests, from Node, in parallel, parsed.
    const urls = ['/api/v1/devices?limit=10000', '/api/v1/cameras?limit=10000', '/api/v1/alerts?state=firing&limit=10000', camApi, `${camApi}/timeline?since=${new Date(now - 24 * 3_600_000).toISOString()}&limit=2000`];
    const api: number[] = [];
    let bytes = 0;
    const budget = Math.max(3, seconds / 2) * 1000;
    for (let i = 0, t = performance.now(); i < 5 || (performance.now() - t < budget && i < 50); i++) {
      const s = performance.now();
      const bodies = await Promise.all(urls.map(async (u) => (await fetch(`${base}${u}`)).text()));
      bodies.forEach((b) => JSON.parse(b));
      if (i >= 2) api.push(performance.now() - s); // two to warm the statements
      bytes = bodies.reduce((n, b) => n + b.length, 0);
    }
    const [cameras, timeline] = [JSON.parse(await (await fetch(`${base}${urls[1]}`)).text()).length as number, JSON.parse(await (await fetch(`${base}${urls[4]}`)).text()).length as number];

    // The page, cold each time: a new browser context has nothing cached.
    const fleet: number[] = [];
    const chart: number[] = [];
    const both: number[] = [];
    const url = `${base}/?site=${cam.site}&device=${cam.device}&camera=${cam.camera}`;
    for (let i = 0, t = performance.now(); i < 5 || (performance.now() - t < budget && i < 30); i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.waitForSelector('body[data-fleet-ready="1"]', { state: 'attached', timeout: 30_000 });
      await page.waitForSelector('#chart[data-ready="1"] canvas', { timeout: 30_000 });
      const marks = (await page.evaluate(`['fleet-rendered', 'timeline-rendered'].map((n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN)`)) as [number, number];
      const rows = (await page.evaluate(`document.querySelectorAll('#fleet a.cam').length`)) as number;
      await context.close();
      if (errors.length) throw new Error(`the page failed: ${errors.join('; ')}`);
      if (rows !== DEVICES * CAMERAS) throw new Error(`the fleet table shows ${rows} cameras, not ${DEVICES * CAMERAS}`);
      if (i === 0) continue; // the first launch warms Chromium itself
      fleet.push(marks[0]);
      chart.push(marks[1]);
      both.push(Math.max(...marks));
    }
    line('bare API: the page\'s 5 requests from Node (baseline)', `${median(api).toFixed(1)} ms median of ${api.length} (${(bytes / 1024).toFixed(0)} KiB; ${cameras} cameras, ${timeline} windows)`);
    line('page: navigation -> fleet table rendered', `${median(fleet).toFixed(0)} ms median of ${fleet.length}`);
    line('page: navigation -> timeline rendered', `${median(chart).toFixed(0)} ms median`);
    line('page: navigation -> both rendered', `${median(both).toFixed(0)} ms median, ${Math.max(...both).toFixed(0)} ms worst`);
    // The page's own cost over its data (scripts, 800 links and a chart in a cold browser): a regression shows here first.
    ratio('page / bare API (both rendered / the 5 requests)', median(both) / median(api), 20, false);
    ratio('page: both rendered, seconds (target < 1)', median(both) / 1000, 1, false);
  } finally {
    await browser.close();
    await app.close();
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('page.bench.ts')) await bench(Number(process.argv[2] ?? 10));
