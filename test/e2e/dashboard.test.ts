/**
 * The operator's page against a live system like `driftline demo`: a collector with its embedded
 * broker, and the real agent running the shipped ONNX model on two synthetic cameras, one stable and
 * one whose light fades. In Debian's Chromium (playwright-core) the page sees the drifting camera turn
 * to alert in the fleet table, opens its timeline with the thresholds drawn, opens the alert, shows a
 * review frame fetched from the agent with the model's boxes drawn over it, and acknowledges the
 * alert, which the API then reports. Screenshots go to .tmp/screenshots/ as artifacts.
 *
 * Windows are short (4 s, twice the frames a window needs at the cameras' rate) and every wait polls
 * with a generous bound: nothing here asserts how long something took.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { agentConfig, SHIPPED_MODEL } from '../../agent/config.js';
import { countedAt, pointConfig, profilePathFor, readProfile } from '../../agent/drift/profile.js';
import { startAgent } from '../../agent/main.js';
import { silentLogger } from '../../lib/log.js';
import { ROOT } from '../helpers/cli.js';
import { testCollector, uniqueName } from '../helpers/collector.js';
import { onFreePort, releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const FPS = 16;
const MIN_FRAMES = 30;
/** Seconds per window: 2 x MIN_FRAMES frames at FPS (4 s, 64 frames). */
const W = Math.ceil((2 * MIN_FRAMES) / FPS);
/** Model load and first connection, before the first window can close. */
const STARTUP_MS = 30_000;
const windows = (n: number): number => n * W * 1000;
const TOKEN = 'e2e-ack-token';
const SHOTS = join(ROOT, '.tmp', 'screenshots');
const CHROMIUM = { executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] };

/** The page's dataset of an element, read in the page (the project compiles without the DOM's types). */
const dataset = (page: Page, selector: string): Promise<Record<string, string>> => page.$eval(selector, (el) => ({ ...(el as unknown as { dataset: Record<string, string> }).dataset }));

test('the page on a live demo-like system: the fading camera turns to alert, its timeline with thresholds, a review frame with boxes, acknowledged', { timeout: STARTUP_MS + windows(40) }, async (t) => {
  const release = releaser(t);
  await mkdir(SHOTS, { recursive: true });
  // Drift fires after two windows at warn or worse, and stays while the light stays dim.
  const collector = await testCollector({ http: { ackToken: TOKEN }, rules: { driftForSeconds: 1.5 * W, driftClearSeconds: 60 * W, evalIntervalSeconds: 0.5 } });
  release('collector', () => collector.stop());

  const site = 'e2e-plant';
  const device = uniqueName('edge');
  const dir = await mkdtemp(join(tmpdir(), 'driftline-e2e-page-'));
  const operatingPoint = pointConfig(countedAt(await readProfile(profilePathFor(SHIPPED_MODEL))));
  const cam = (name: string, seed: number, schedule: object[]): object => ({ name, source: { kind: 'synthetic', width: 320, height: 240, fps: FPS, seed, schedule } });
  // The review links in the alert's evidence need the agent's address before it starts (its birth
  // message carries mqtt.reviewUrl): a port free now, and another if it is taken by the time it listens.
  const start = (port: number) =>
    startAgent(
      agentConfig(
        {
          model: { providers: ['cpu'], ...operatingPoint },
          store: { path: join(dir, `agent-${port}.db`), minFreeBytes: 2 << 20 },
          telemetry: { windowSeconds: W },
          drift: { minFrames: MIN_FRAMES },
          // Enough review frames for every dim window to have some (the default budget is 60 an hour).
          review: { maxPerHour: 3600 },
          mqtt: { url: collector.brokerUrl, site, device, reviewUrl: `http://127.0.0.1:${port}/review` },
          http: { host: '127.0.0.1', port },
          cameras: [
            cam('stable', 11, []),
            // Two windows of nominal light, a fall to half over one window, then dim to the end.
            cam('drifting', 12, [
              { at: 0, gain: 1 },
              { at: 2 * W, gain: 1 },
              { at: 3 * W, gain: 0.5 },
            ]),
          ],
        },
        {},
      ).config,
      silentLogger,
    );
  const agent = await onFreePort('the agent', start);
  release('agent', () => agent.stop());

  const browser = await chromium.launch(CHROMIUM);
  release('browser', () => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));

  // 1. The fleet table: the device online on cpu with the shipped model, then the fading camera at alert.
  await page.goto(`${collector.httpUrl}/`);
  const drifting = `#fleet a.cam[data-device="${device}"][data-camera="drifting"]`;
  await page.waitForSelector(`${drifting}[data-verdict="alert"]`, { timeout: STARTUP_MS + windows(12) });
  const row = await page.$$eval(`#fleet tr[data-device="${device}"] > *`, (cells) => cells.map((c) => c.textContent ?? ''));
  assert.equal(row[1], 'online');
  assert.equal(row[2], 'cpu');
  assert.match(row[3]!, /^line-detector\.onnx@[0-9a-f]{12}$/);
  await until(() => collector.rules.firing.some((a) => a.rule === 'drift' && a.labels.device === device && a.labels.camera === 'drifting'), windows(8), 'the drift alert');
  const alert = collector.rules.firing.find((a) => a.rule === 'drift' && a.labels.device === device)!;
  await page.waitForSelector(`#alerts tr[data-alert="${alert.id}"]`, { timeout: windows(4) });
  await page.screenshot({ path: join(SHOTS, 'dashboard-fleet.png'), fullPage: true });

  // 2. Its timeline: a chart with the warn and alert lines at the levels the API gave the page.
  await page.click(drifting);
  await page.waitForSelector(`#chart[data-camera="${site}/${device}/drifting"][data-ready="1"] canvas`);
  const chart = await dataset(page, '#chart');
  const camera = (await (await fetch(`${collector.httpUrl}/api/v1/cameras/${site}/${device}/drifting`)).json()) as { levels: { warn: number; alert: number } };
  assert.deepEqual([Number(chart.warn), Number(chart.alert)], [camera.levels.warn, camera.levels.alert], 'the thresholds drawn are the ones the API said');
  assert.deepEqual(camera.levels, { warn: 1, alert: 2 });
  const timeline = (await (await fetch(`${collector.httpUrl}/api/v1/cameras/${site}/${device}/drifting/timeline`)).json()) as { status: string; level: number | null }[];
  assert.ok(Number(chart.windows) > 0 && Number(chart.windows) <= timeline.length, `the chart holds the windows the API has: ${chart.windows} of ${timeline.length}`);
  assert.ok(timeline.some((w) => w.status === 'alert' && w.level !== null && w.level >= camera.levels.alert), 'alert windows sit above the alert line');
  assert.ok(timeline.some((w) => w.status === 'ok' && w.level !== null && w.level < camera.levels.warn), 'the nominal windows below the warn line');
  const legend = await page.$$eval('#chart .u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent));
  for (const s of ['level', 'warn (1)', 'alert (2)', 'alert windows']) assert.ok(legend.includes(s), `the chart draws ${s}: ${legend.join(', ')}`);
  assert.equal(await page.$$eval('#chart canvas', (cs) => cs.filter((c) => (c as unknown as { width: number }).width > 0).length), 1, 'one drawn canvas');
  assert.match((await page.textContent('#timeline-drift')) ?? '', /Drift started .* \(window \d+\); the firing alert fired .*later/, 'when the drift started, and when the alert fired');
  await (await page.$('#timeline'))!.screenshot({ path: join(SHOTS, 'dashboard-timeline.png') });

  // 3. The alert's page: evidence, and a review frame fetched from the agent with its boxes drawn.
  // The evidence follows the latest window: reload until one of its frames holds a detection.
  await page.click(`#alerts tr[data-alert="${alert.id}"] a[data-alert]`);
  await page.waitForURL(`**/alerts/${alert.id}`);
  let boxed: Record<string, string> | undefined;
  for (let attempt = 0; !boxed; attempt++) {
    assert.ok(attempt < 12, 'a review frame with a detection within 12 windows');
    if (attempt) {
      await new Promise((r) => setTimeout(r, W * 1000));
      await page.reload();
    }
    await page.waitForSelector('#review-body > *', { state: 'attached', timeout: windows(4) });
    // (Element waits, not waitForFunction: the page's Content-Security-Policy allows no eval.)
    await page.waitForSelector('figure.review:not([data-state])', { state: 'detached', timeout: windows(4) });
    const figures = await page.$$eval('figure.review', (fs) => fs.map((f) => ({ ...(f as unknown as { dataset: Record<string, string> }).dataset })));
    assert.ok(figures.every((f) => f.state === 'loaded'), `every frame loaded from the agent: ${JSON.stringify(figures)}`);
    boxed = figures.find((f) => Number(f.boxes) > 0);
  }
  assert.ok(boxed.src!.startsWith(`${agent.http!.url}/review/`), `the frame came from the agent: ${boxed.src}`);
  const figure = `figure.review[data-src="${boxed.src}"]`;
  const drawn = await page.$eval(figure, (f) => {
    const img = f.querySelector('img') as unknown as { naturalWidth: number; src: string };
    return { width: img.naturalWidth, blob: img.src.startsWith('blob:'), rects: f.querySelectorAll('svg rect').length, labels: [...f.querySelectorAll('svg text')].map((x) => x.textContent), viewBox: f.querySelector('svg')!.getAttribute('viewBox') };
  });
  const detections = (await (await fetch(`${boxed.src}/detections`)).json()) as { width: number; height: number; detections: { class: string }[] };
  assert.ok(drawn.width > 0 && drawn.blob, 'the image is shown');
  assert.equal(drawn.rects, detections.detections.length, 'one box per detection the agent reports');
  assert.equal(drawn.viewBox, `0 0 ${detections.width} ${detections.height}`, 'boxes in the JPEG\'s pixels');
  assert.ok(drawn.labels.every((l, i) => l!.startsWith(detections.detections[i]!.class)), `labelled with the class: ${drawn.labels}`);
  assert.match((await page.textContent('#evidence-body')) ?? '', /Cause: (input-drift|camera-fault)/);
  const runbook = await page.getAttribute('#alert-facts a[href*="/runbook#"]', 'href');
  assert.equal(runbook, `${collector.httpUrl}/runbook#drift`, 'runbook_url is an absolute link to the collector\'s runbook');
  assert.match(await (await fetch(runbook)).text(), /<h2 id="drift">/);

  // 4. Acknowledge: the button asks for the token, which stays in this tab's sessionStorage only.
  await page.fill('#ack-form input[name=by]', 'e2e operator');
  await page.fill('#ack-form input[name=comment]', 'technician on the way');
  await page.fill('#ack-form input[name=token]', TOKEN);
  await page.click('#ack-form button[type=submit]');
  await page.locator('#ack-result', { hasText: 'Acknowledged by e2e operator' }).waitFor();
  assert.match((await page.textContent('#ack-state')) ?? '', /^Acknowledged by e2e operator at .*: technician on the way\.$/);
  const stored = (await page.evaluate(`[sessionStorage.getItem('driftline.ackToken'), localStorage.length]`)) as [string, number];
  assert.deepEqual(stored, [TOKEN, 0], 'the token in sessionStorage, nothing in localStorage');
  const acked = (await (await fetch(`${collector.httpUrl}/api/v1/alerts/${alert.id}`)).json()) as { state: string; ack?: { by: string; comment: string } };
  assert.deepEqual([acked.state, acked.ack?.by, acked.ack?.comment], ['firing', 'e2e operator', 'technician on the way'], 'the API says acknowledged');
  await page.screenshot({ path: join(SHOTS, 'dashboard-alert.png'), fullPage: true });

  assert.ok(!collector.rules.firing.some((a) => a.rule === 'drift' && a.labels.device === device && a.labels.camera === 'stable'), 'no drift alert for the stable camera');
  assert.deepEqual(errors, [], 'no errors in the page');
});
