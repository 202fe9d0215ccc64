/**
 * The operator's page (collector/http/dashboard.ts, collector/web/): its routes and assets through
 * inject, then in a real browser (Debian's Chromium driven by playwright-core): it lists the devices
 * and cameras with their last verdict and the active alerts, read from the API, draws a camera's
 * timeline with its thresholds, and shows what devices send as text, never as markup.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectAsync, MqttClient } from 'mqtt';
import { chromium } from 'playwright-core';
import { Registry } from 'prom-client';
import { buildAgentHttp } from '../../../agent/http/server.js';
import { ReviewSampler } from '../../../agent/review/sampler.js';
import { openDatabase } from '../../../agent/store/database.js';
import { buildHttp } from '../../../collector/http/server.js';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { eventTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg, testCollector, uniqueName, untilSubscribed } from '../../helpers/collector.js';
import { ROOT } from '../../helpers/cli.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

const CHROMIUM = { executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] };

test('pages and assets: served by the collector itself, with a Content-Security-Policy, revalidated, nothing from the network', async (t) => {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-pages-')), 'c.db'));
  const rules = new RuleEngine(store, { driftForMs: 0, driftClearMs: 0, driftMinSeverity: 'warn', offlineSilenceMs: 60_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: '' }, () => undefined);
  const app = buildHttp({ store, rules, metrics: new Registry(), ackToken: '', health: () => ({ broker: true }) });
  t.after(async () => {
    await app.close();
    store.close();
  });
  const assets = new Set<string>();
  for (const url of ['/', '/alerts/0123456789abcdef', '/runbook']) {
    const r = await app.inject(url);
    assert.equal(r.statusCode, 200, url);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(String(r.headers['content-security-policy']), /script-src 'self';/, `${url}: scripts from the collector only`);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    for (const m of r.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) assets.add(m[1]!);
    assert.doesNotMatch(r.body, /<(script|link|img)[^>]+(src|href)="(https?:)?\/\//, `${url}: nothing loaded from the network`);
  }
  assert.deepEqual([...assets].sort(), ['/assets/app.css', '/assets/app.js', '/assets/favicon.svg', '/assets/uPlot.iife.min.js', '/assets/uPlot.min.css']);
  for (const url of assets) {
    const r = await app.inject(url);
    assert.equal(r.statusCode, 200, url);
    const again = await app.inject({ url, headers: { 'if-none-match': String(r.headers.etag) } });
    assert.equal(again.statusCode, 304, `${url}: revalidated, not sent again`);
    if (!url.includes('uPlot')) assert.doesNotMatch(r.body.replace('http://www.w3.org/2000/svg', ''), /https?:\/\//, `${url}: no network`);
  }
  assert.equal((await app.inject('/assets/uPlot.iife.min.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal((await app.inject('/assets/nope.js')).statusCode, 404);
  assert.equal((await app.inject('/assets/..%2Fserver.ts')).statusCode, 400);
  assert.equal((await app.inject('/alerts/not-an-id')).statusCode, 400);
  const runbook = (await app.inject('/runbook')).body;
  assert.match(runbook, /<h2 id="drift">/);
  assert.match(runbook, /<h2 id="driftlineagentdown">/);
  assert.doesNotMatch(runbook, /<script/, 'the runbook runs nothing');
  const missing = buildHttp({ store, rules, metrics: new Registry(), ackToken: '', health: () => ({ broker: true }), runbookFile: '/nonexistent/runbook.md' });
  t.after(() => missing.close());
  assert.equal((await missing.inject('/runbook')).statusCode, 404);
  // The script is plain JavaScript the browser runs as is: no build step to forget.
  assert.doesNotMatch(await readFile(new URL('../../../collector/web/app.js', import.meta.url), 'utf8'), /^\s*import\s/m);
});

test('dashboard shows devices, cameras and the firing drift alerts, a camera\'s timeline with its thresholds, and what devices send as text', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector({ rules: { driftForSeconds: 0 } });
  release('collector', () => c.stop());
  const mq = await connectAsync(c.brokerUrl, { clientId: uniqueName('dashboard-test') });
  release('device client', () => mq.endAsync());
  await untilSubscribed(c);
  const birth = { schema: 'driftline.status/1', site: 'p', device: 'e', state: 'online', ts: Date.now(), agent: { version: '0.1.0' }, model: { name: 'line-detector.onnx', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['tensorrt', 'cpu'], cameras: ['cam-dim', 'cam-odd', 'cam-ok', 'cam-new'], windowSeconds: 60 };
  await mq.publishAsync(statusTopic('p', 'e'), JSON.stringify(birth), { qos: 1 });
  for (let seq = 1; seq <= 3; seq++) await mq.publishAsync(summaryTopic('p', 'e', 'cam-ok'), JSON.stringify(summaryMsg('p', 'e', 'cam-ok', seq, { familyScores: { illumination: 0.2 * seq, model: 0.3 } })), { qos: 1 });
  const drivers = [{ key: 'psi:brightness', value: 0.7, warn: 0.1, alert: 0.25, level: 'alert' as const }];
  await mq.publishAsync(summaryTopic('p', 'e', 'cam-dim'), JSON.stringify(summaryMsg('p', 'e', 'cam-dim', 1, { familyScores: { illumination: 0.4 } })), { qos: 1 });
  await mq.publishAsync(summaryTopic('p', 'e', 'cam-dim'), JSON.stringify(summaryMsg('p', 'e', 'cam-dim', 2, { status: 'alert', drivers, familyScores: { illumination: 4.2 }, features: { ...summaryMsg('p', 'e', 'c', 1).features, brightness: { mean: 60, std: 4, min: 50, max: 70, z: -6 } } })), { qos: 1 });
  // What a device sends reaches the page as text: a driver key carrying markup, in the alert's summary.
  const markup = '<img src=x onerror="document.title=\'pwned\'">';
  const odd = [{ key: `psi:${markup}`, value: 0.9, warn: 0.1, alert: 0.25, level: 'alert' as const }];
  await mq.publishAsync(summaryTopic('p', 'e', 'cam-odd'), JSON.stringify(summaryMsg('p', 'e', 'cam-odd', 1, { status: 'alert', drivers: odd })), { qos: 1 });
  await until(() => c.rules.firing.filter((a) => a.rule === 'drift').length === 2, 10_000, 'the two drift alerts');

  const browser = await chromium.launch(CHROMIUM);
  release('browser', () => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${c.httpUrl}/`);
  await page.waitForSelector('#fleet a.cam[data-camera="cam-ok"]');
  const device = await page.$$eval('#fleet tbody tr', (rows) => rows.map((r) => [...r.children].map((td) => td.textContent)));
  assert.equal(device.length, 1);
  assert.deepEqual(device[0]!.slice(0, 5), ['p/e providerFallback alert', 'online', 'cpu (not tensorrt)', `line-detector.onnx@${'a'.repeat(12)}`, '0.1.0']);
  const cams = await page.$$eval('#fleet a.cam', (as) => as.map((a) => [a.getAttribute('data-camera'), a.getAttribute('data-verdict'), a.className]));
  assert.deepEqual(cams, [['cam-dim', 'alert', 'cam v-alert'], ['cam-new', 'none', 'cam v-none'], ['cam-odd', 'alert', 'cam v-alert'], ['cam-ok', 'ok', 'cam v-ok']]);
  assert.match(await page.textContent('#fleet-summary') ?? '', /^1 device \(1 online, 0 offline\), 4 cameras: 2 alert, 1 without a window yet, 1 ok\.$/);
  const alerts = await page.$$eval('#alerts tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  assert.equal(alerts.length, 3, 'two drift alerts and the provider fallback');
  const dim = alerts.find((a) => a[3]!.startsWith('p/e/cam-dim:'));
  assert.ok(dim, JSON.stringify(alerts));
  assert.equal(dim[2], 'critical');
  assert.match(dim[3]!, /^p\/e\/cam-dim: illumination: brightness mean 60\.0 \(z = \u22126\.0\); input drift/);
  assert.equal(dim[4], 'input-drift');
  assert.notEqual(dim[1], '—', 'when the drift started');
  const shown = alerts.find((a) => a[3]!.startsWith('p/e/cam-odd:'));
  assert.ok(shown?.[3]!.includes(`psi:${markup}`), `the markup is shown as text: ${JSON.stringify(shown)}`);
  assert.equal(await page.locator('#alerts img').count(), 0, 'no element was made from it');
  assert.notEqual(await page.title(), 'pwned', 'no script from it ran');

  // A camera's timeline: opened from the fleet table, its thresholds drawn from what the API said.
  await page.click('#fleet a.cam[data-camera="cam-ok"]');
  await page.waitForSelector('#chart[data-ready="1"] canvas');
  assert.match(page.url(), /\?site=p&device=e&camera=cam-ok$/);
  const chart = await page.$eval('#chart', (el): Record<string, string | null> => ({ ...(el as unknown as { dataset: Record<string, string> }).dataset, label: el.getAttribute('aria-label') }));
  const api = (await (await fetch(`${c.httpUrl}/api/v1/cameras/p/e/cam-ok`)).json()) as { levels: { warn: number; alert: number } };
  assert.deepEqual([Number(chart.warn), Number(chart.alert), chart.windows], [api.levels.warn, api.levels.alert, '3']);
  assert.match(chart.label!, /3 windows .*Warn threshold at 1, alert threshold at 2\./);
  const legend = await page.$$eval('#chart .u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent));
  assert.ok(legend.includes('warn (1)') && legend.includes('alert (2)'), `the threshold lines are series of the chart: ${legend}`);
  // The drifting camera: its alert's start and firing told in words.
  await page.click('#fleet a.cam[data-camera="cam-dim"]');
  await page.waitForSelector('#chart[data-camera="p/e/cam-dim"][data-ready="1"]');
  assert.match(await page.textContent('#timeline-drift') ?? '', /Drift started .* \(window 2\); the firing alert fired/);
  assert.deepEqual(errors, []);
});

/**
 * Every string a device chooses that reaches the page, each carrying markup meant to break out of
 * it. What reaches the page (collector/http/dashboard.ts renders the alerts' summary text and the
 * cameras' names; names are held to [A-Za-z0-9_.-] by the schema, so only the alert text is free):
 *   - a drift alert's summary: the lead driver's key (an input feature's, or a class label's as in
 *     `js:conf.<class>`) and the model's name (`model <name>@<sha12>`, collector/rules/engine.ts);
 *   - providerFallback: the provider in use and the preferred one, from the birth message or a
 *     providerFallback event's detail;
 *   - modelChanged: the new model's name, from the birth message or a modelChanged event's file;
 *   - duplicateDevice (embedded broker, no registry): the MQTT client id.
 * Each must be shown as the very text the API returns, no element may be made from it, and no
 * script may run (a payload that ran would set `window.pw` or the title, or open a dialog).
 */
const HOSTILE = [
  `"><img src=x onerror=top.pw=1>`, // breaks out of a double-quoted attribute
  `' onmouseover='top.pw=2' x='`, // ... and a single-quoted one
  `</td><script>top.pw=3</script>`, // closes the cell, then a script
  `&lt;b&gt;bold&lt;/b&gt; &amp;`, // entity text: must be shown as written, not decoded to <b>
  `javascript:top.pw=4`, // a URL that runs when followed
  `<a href=javascript:top.pw=5>a`, // ... in a link
  `<svg/onload=top.pw=6>`, // runs on insertion
  `<style>*{display:none}</style>`, // hides the page
  `<!--<b>`, // opens a comment
];
/** For the fields that take more than 32 characters (model names, driver keys, client ids). */
const HOSTILE_LONG = [`</td></tr></tbody></table><iframe src="javascript:top.pw=7"></iframe><table><tbody><tr><td>`, `<img src=x onerror="document.title='pwned'">`];

test('dashboard: hostile text in every device-chosen field reaches the page as literal text, makes no element and runs nothing', { timeout: 120_000 }, async (t) => {
  for (const p of HOSTILE) assert.ok(p.length <= 32, `fits a provider name (32): ${p}`);
  const release = releaser(t);
  const c = await testCollector({ rules: { driftForSeconds: 0 } });
  release('collector', () => c.stop());
  const mq = await connectAsync(c.brokerUrl, { clientId: uniqueName('dashboard-hostile') });
  release('device client', () => mq.endAsync());
  await untilSubscribed(c);
  const SHA_A = 'a'.repeat(64);
  const SHA_B = 'b'.repeat(64);
  /** What each hostile string must be shown inside: a fragment of the alert text built around it. */
  const expected: { field: string; text: string }[] = [];
  const publish = (topic: string, m: object): Promise<unknown> => mq.publishAsync(topic, JSON.stringify(m), { qos: 1 });
  const birth = (device: string, model: { name: string; sha256: string }, provider: string, preferred: string): object => ({
    schema: 'driftline.status/1',
    site: 'p',
    device,
    state: 'online',
    ts: Date.now(),
    agent: { version: '0.1.0' },
    model,
    provider,
    providers: [preferred, 'cpu'],
    cameras: [],
    windowSeconds: 60,
  });
  const all = [...HOSTILE, ...HOSTILE_LONG];
  for (const [i, p] of all.entries()) {
    // A drift alert led by a feature driver, from a model with a hostile name ...
    const feature = [{ key: `psi:${p}`, value: 0.9, warn: 0.1, alert: 0.25, level: 'alert' as const }];
    await publish(summaryTopic('p', 'e', `cam-f${i}`), summaryMsg('p', 'e', `cam-f${i}`, 1, { status: 'alert', drivers: feature, model: { name: p, sha256: SHA_A } }));
    expected.push({ field: 'driver key', text: `psi:${p} 0.900` }, { field: 'model name (drift)', text: `model ${p}@${SHA_A.slice(0, 12)}` });
    // ... and one led by a class label's confidence histogram.
    const cls = [{ key: `js:conf.${p}`, value: 0.5, warn: 0.1, alert: 0.2, level: 'alert' as const }];
    await publish(summaryTopic('p', 'e', `cam-c${i}`), summaryMsg('p', 'e', `cam-c${i}`, 1, { status: 'alert', drivers: cls }));
    expected.push({ field: 'class label', text: `js:conf.${p} 0.500` });
    // A device whose birth names a hostile provider (in use and preferred) and, on its second
    // birth, a new model with a hostile name.
    if (p.length <= 32) {
      const preferred = HOSTILE[(i + 1) % HOSTILE.length]!;
      await publish(statusTopic('p', `dev${i}`), birth(`dev${i}`, { name: 'line-detector.onnx', sha256: SHA_A }, 'cpu', 'cpu'));
      await publish(statusTopic('p', `dev${i}`), birth(`dev${i}`, { name: p, sha256: SHA_B }, p, preferred));
      expected.push({ field: 'provider', text: `p/dev${i} runs on ${p}, not ${preferred}` }, { field: 'model name (modelChanged)', text: `p/dev${i} now runs ${p}@${SHA_B.slice(0, 12)}` });
    }
    // The same two alerts from events (another device): the model file, the providers in the detail.
    const event = (seq: number, kind: string, detail: object): object => ({ schema: 'driftline.event/1', site: 'p', device: `evt${i}`, camera: 'cam', seq, ts: Date.now(), kind, message: p, detail });
    await publish(eventTopic('p', `evt${i}`, 'cam'), event(1, 'modelChanged', { previous: SHA_A, current: SHA_B, file: p }));
    expected.push({ field: 'model file (modelChanged event)', text: `p/evt${i} now runs ${p}@${SHA_B.slice(0, 12)}` });
    if (p.length <= 32) {
      const preferred = HOSTILE[(i + 2) % HOSTILE.length]!;
      await publish(eventTopic('p', `evt${i}`, 'cam'), event(2, 'providerFallback', { preferred, provider: p }));
      expected.push({ field: 'provider (providerFallback event)', text: `p/evt${i} runs on ${p}, not ${preferred}` });
    }
  }
  // Two devices sharing one hostile client id, from two loopback addresses: duplicateDevice names it.
  const port = Number(new URL(c.brokerUrl).port);
  const cloned = [HOSTILE[0]!, HOSTILE_LONG[0]!];
  for (const clientId of cloned) {
    for (const localAddress of ['127.0.0.1', '127.0.0.2']) {
      const m = new MqttClient(() => createConnection({ host: '127.0.0.1', port, localAddress }), { clientId, reconnectPeriod: 200, keepalive: 30, protocolVersion: 4 });
      release(`client ${localAddress} ${clientId}`, () => m.endAsync(true));
    }
    expected.push({ field: 'client id', text: `client ${clientId}: two devices share one identity` });
  }
  const count = all.length * 3 + HOSTILE.length * 3 + cloned.length;
  await until(() => c.rules.firing.length === count, 30_000, `${count} alerts (${c.rules.firing.length} so far)`);
  const api = (await (await fetch(`${c.httpUrl}/api/v1/alerts`)).json()) as { annotations: { summary: string } }[];
  assert.equal(api.length, count);
  for (const e of expected) assert.ok(api.some((a) => a.annotations.summary.includes(e.text)), `the API carries the ${e.field} as sent: ${e.text}`);

  const browser = await chromium.launch(CHROMIUM);
  release('browser', () => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${c.httpUrl}/`);
  // The rows rendered (a payload that made rows of its own would keep this from holding: the
  // assertions below then say what the page holds).
  // (An element wait, not waitForFunction: the page's Content-Security-Policy allows no eval.)
  await page.locator('#alerts tbody tr').nth(count - 1).waitFor({ timeout: 30_000 }).catch(() => undefined);
  // Let one more refresh (every 5 s) run over the same rows.
  await page.waitForTimeout(5500);

  const cells = await page.$$eval('#alerts tbody tr', (rows) =>
    rows.map((r) => [...r.children].map((td) => ({ tag: td.tagName, text: td.textContent ?? '', kids: [...td.children].map((k) => `${k.tagName}:${k.childElementCount}`) }))),
  );
  assert.equal(cells.length, count, 'one row per alert, none added by a payload');
  for (const row of cells) {
    assert.deepEqual(row.map((x) => x.tag), ['TD', 'TD', 'TD', 'TD', 'TD', 'TD'], `six cells a row: ${JSON.stringify(row)}`);
    assert.deepEqual(row[3]!.kids, ['A:0'], `the summary is one link holding text only: ${JSON.stringify(row)}`);
    for (const [k, x] of row.entries()) if (k !== 3) assert.ok(x.kids.every((kid) => /^(TIME|SPAN):0$/.test(kid)), `the page's own time and span elements only: ${JSON.stringify(x)}`);
  }
  // The page shows each alert's summary exactly as the API returns it ...
  assert.deepEqual(cells.map((r) => r[3]!.text).sort(), api.map((a) => a.annotations.summary).sort(), 'each summary shown as the API returns it');
  // ... so every hostile string is on it, as written (entity text included, not decoded).
  for (const e of expected) assert.ok(cells.some((r) => r[3]!.text.includes(e.text)), `the ${e.field} is shown literally: ${e.text}`);
  assert.ok(cells.some((r) => r[3]!.text.includes('&lt;b&gt;bold&lt;/b&gt; &amp;')), 'entity text is shown as typed');
  // The fleet table shows the devices' hostile providers and model names as text too.
  const fleet = await page.$$eval('#fleet tbody tr', (rows) => rows.map((r) => [...r.children].map((td) => td.textContent ?? '')));
  for (const p of HOSTILE) assert.ok(fleet.some((r) => r[2]!.startsWith(p)), `the provider ${p} is shown literally in the fleet table`);
  for (const p of HOSTILE) assert.ok(fleet.some((r) => r[3]!.startsWith(`${p}@`)), `the model name ${p} is shown literally in the fleet table`);

  // No element was made from any of it, anywhere on the page: only the page's own.
  // (Run in the page: a string, as this project compiles without the DOM's types.)
  const inspect = `({
    inTables: [...document.querySelectorAll('table:not(.u-legend) *')].map((e) => e.tagName).filter((tag) => !['THEAD', 'TBODY', 'TR', 'TH', 'TD', 'A', 'SPAN', 'TIME', 'UL', 'LI', 'CAPTION'].includes(tag)),
    tables: document.querySelectorAll('table:not(.u-legend)').length,
    scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
    links: [...document.querySelectorAll('a')].map((a) => a.getAttribute('href')),
    foreign: document.querySelectorAll('img, svg, iframe, b, textarea, style').length,
    sheets: [...document.querySelectorAll('link[rel=stylesheet]')].map((l) => l.getAttribute('href')),
    comments: document.createTreeWalker(document.body, NodeFilter.SHOW_COMMENT).nextNode() !== null,
    shown: getComputedStyle(document.querySelector('table')).display,
    pw: window.pw,
  })`;
  type Made = { inTables: string[]; tables: number; scripts: string[]; links: string[]; foreign: number; sheets: string[]; comments: boolean; shown: string; pw: unknown };
  const own = (made: Made, tables: number, where: string): void => {
    assert.deepEqual(made.inTables, [], `${where}: only the page's own elements inside the tables`);
    assert.equal(made.tables, tables, where);
    assert.deepEqual(made.scripts, ['/assets/app.js', '/assets/uPlot.iife.min.js'], `${where}: the page's own scripts only`);
    const foreign = made.links.filter((h) => !['#main', '/', '/runbook', '/api/v1/alerts', '/metrics', `${c.httpUrl}/runbook#drift`].includes(h) && !/^\/alerts\/[0-9a-f]{16}$/.test(h) && !/^\/\?site=p&device=[A-Za-z0-9_.%-]+&camera=[A-Za-z0-9_.%-]+$/.test(h));
    assert.deepEqual(foreign, [], `${where}: the page's own links only (its navigation, alerts, cameras)`);
    assert.equal(made.foreign, 0, `${where}: no img, svg, iframe, style, b or textarea made`);
    assert.deepEqual(made.sheets, ['/assets/uPlot.min.css', '/assets/app.css'], `${where}: the page's own style sheets only`);
    assert.equal(made.comments, false, `${where}: no comment opened`);
    assert.equal(made.shown, 'table', `${where}: the tables are still shown`);
    assert.equal(made.pw, undefined, where);
  };
  own((await page.evaluate(inspect)) as Made, 2, 'fleet');
  // Hovering each summary and each device's cells would fire an onmouseover made from a payload.
  for (const cell of await page.locator('#alerts tbody td:nth-child(4), #fleet tbody td').all()) await cell.hover();
  assert.equal(await page.evaluate('window.pw'), undefined, 'no script from a payload ran');
  assert.equal(await page.title(), 'Driftline collector', "the title is the page's own");

  // An alert's own page: its evidence (the hostile driver key, in the drivers table) as text.
  const hostile = c.rules.firing.find((a) => a.labels.camera === 'cam-f0')!;
  await page.goto(`${c.httpUrl}/alerts/${hostile.id}`);
  await page.waitForSelector('#drivers tbody tr');
  const keys = await page.$$eval('#drivers tbody tr td:first-child', (tds) => tds.map((td) => [td.textContent, td.childElementCount]));
  assert.deepEqual(keys, [[`psi:${HOSTILE[0]}`, 0]], 'the driver key as text, in a cell of its own');
  assert.equal(await page.textContent('#alert-title'), hostile.annotations.summary);
  own((await page.evaluate(inspect)) as Made, 3, 'alert page'); // drivers, shifts, history
  assert.deepEqual(dialogs, []);
  assert.deepEqual(errors, []);
});

test("an alert's review frames from an agent that wants its token: the page asks, sends it to that agent only, draws the boxes", { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  // The real agent's review routes, with a token, on a listener of their own.
  const dir = await mkdtemp(join(tmpdir(), 'driftline-page-review-'));
  const db = openDatabase(join(dir, 'agent.db'));
  release('agent store', () => db.close());
  db.prepare("INSERT INTO cameras (name) VALUES ('line-1')").run([]);
  const sampler = new ReviewSampler(db, { dir: join(dir, 'review'), maxPerHour: 100, maxBytes: 1 << 20 });
  const ts = Date.now();
  sampler.save({ cameraId: 1, cameraName: 'line-1', ts, frame: 7, reason: 'ood', input: new Float32Array(3 * 64 * 48).fill(0.4), width: 64, height: 48, detections: [{ class: 'washer', score: 0.41, box: [16, 12, 48, 36] }], stats: {} });
  await sampler.flush();
  const agent = buildAgentHttp({ liveness: () => ({ wedged: [], message: '' }), readiness: () => ({ ready: true, reasons: [], checks: { model: { ok: true }, store: { ok: true }, mqtt: { ok: true, enabled: false } } }), metrics: new Registry(), review: { db, dir: join(dir, 'review'), access: { kind: 'token', token: 'review-s3cret' } } });
  await agent.listen({ host: '127.0.0.1', port: 0 });
  release('agent http', () => agent.close());
  const agentUrl = `http://127.0.0.1:${(agent.server.address() as { port: number }).port}`;

  const c = await testCollector({ rules: { driftForSeconds: 0 } });
  release('collector', () => c.stop());
  const mq = await connectAsync(c.brokerUrl, { clientId: uniqueName('review-token-test') });
  release('device client', () => mq.endAsync());
  await untilSubscribed(c);
  const birth = { schema: 'driftline.status/1', site: 'p', device: 'e', state: 'online', ts, agent: { version: '0.1.0' }, model: { name: 'm.onnx', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['line-1'], windowSeconds: 60, reviewUrl: `${agentUrl}/review` };
  await mq.publishAsync(statusTopic('p', 'e'), JSON.stringify(birth), { qos: 1 });
  await until(() => c.store.device('p', 'e') !== undefined, 10_000, 'the birth');
  const drivers = [{ key: 'psi:brightness', value: 0.7, warn: 0.1, alert: 0.25, level: 'alert' as const }];
  const file = `line-1-${ts}-7.jpg`;
  await mq.publishAsync(summaryTopic('p', 'e', 'line-1'), JSON.stringify(summaryMsg('p', 'e', 'line-1', 1, { status: 'alert', drivers, review: [{ file, ts, reason: 'ood' }] })), { qos: 1 });
  await until(() => c.rules.firing.some((a) => a.rule === 'drift'), 10_000, 'the drift alert');
  const alert = c.rules.firing.find((a) => a.rule === 'drift')!;
  assert.deepEqual(alert.evidence?.reviewFrames, [`${agentUrl}/review/${file}`]);

  const browser = await chromium.launch(CHROMIUM);
  release('browser', () => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  const sent: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // The agent's 401 before the token is given is the browser's to log; nothing else may be.
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
  });
  page.on('request', (r) => {
    const auth = r.headers().authorization;
    if (auth) sent.push(`${new URL(r.url()).origin} ${auth}`);
  });
  await page.goto(`${c.httpUrl}/alerts/${alert.id}`);
  await page.waitForSelector('#review-token-ask:not([hidden])');
  assert.equal(await page.textContent('#review-token-origin'), agentUrl, 'it names the agent that asks');
  assert.equal(await page.getAttribute('figure.review', 'data-state'), 'token');
  await page.fill('#review-token', 'review-s3cret');
  await page.click('#review-token-use');
  await page.waitForSelector('figure.review[data-state="loaded"]');
  assert.equal(await page.getAttribute('figure.review', 'data-boxes'), '1', 'the detection drawn over the frame');
  assert.equal(await page.textContent('svg.boxes text'), 'washer 0.410');
  assert.equal(await page.isHidden('#review-token-ask'), true);
  assert.deepEqual([...new Set(sent)], [`${agentUrl} Bearer review-s3cret`], 'the token went to that agent only');
  assert.deepEqual(await page.evaluate(`Object.keys(sessionStorage)`), [`driftline.reviewToken:${agentUrl}`], 'kept per agent, in this tab');
  await mkdir(join(ROOT, '.tmp', 'screenshots'), { recursive: true });
  await page.screenshot({ path: join(ROOT, '.tmp', 'screenshots', 'dashboard-review-token.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
