/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core): it lists the
 * cameras with their last verdict and the active alerts, read from the API, and escapes what
 * devices send.
 */
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { connectAsync, MqttClient } from 'mqtt';
import { chromium } from 'playwright-core';
import { eventTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg, testCollector, uniqueName, untilSubscribed } from '../../helpers/collector.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

test('dashboard shows cameras and the firing drift alerts, with what devices send as text', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector({ rules: { driftForSeconds: 0 } });
  release('collector', () => c.stop());
  const mq = await connectAsync(c.brokerUrl, { clientId: uniqueName('dashboard-test') });
  release('device client', () => mq.endAsync());
  await untilSubscribed(c);
  await mq.publishAsync(summaryTopic('p', 'e', 'cam-ok'), JSON.stringify(summaryMsg('p', 'e', 'cam-ok', 1)), { qos: 1 });
  const drivers = [{ key: 'psi:brightness', value: 0.7, warn: 0.1, alert: 0.25, level: 'alert' as const }];
  await mq.publishAsync(summaryTopic('p', 'e', 'cam-dim'), JSON.stringify(summaryMsg('p', 'e', 'cam-dim', 1, { status: 'alert', drivers, features: { ...summaryMsg('p', 'e', 'c', 1).features, brightness: { mean: 60, std: 4, min: 50, max: 70, z: -6 } } })), { qos: 1 });
  // What a device sends reaches the page as text: a driver key carrying markup, in the alert's summary.
  const markup = '<img src=x onerror="document.title=\'pwned\'">';
  const odd = [{ key: `psi:${markup}`, value: 0.9, warn: 0.1, alert: 0.25, level: 'alert' as const }];
  await mq.publishAsync(summaryTopic('p', 'e', 'cam-odd'), JSON.stringify(summaryMsg('p', 'e', 'cam-odd', 1, { status: 'alert', drivers: odd })), { qos: 1 });
  await until(() => c.rules.firing.length === 2, 10_000, 'the two alerts');

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  release('browser', () => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${c.httpUrl}/`);
  await page.waitForSelector('#cameras tbody tr:nth-child(3)');
  const cameras = await page.$$eval('#cameras tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(cameras.map((r) => [r[2], r[4], r[5]]), [['cam-dim', 'alert', '1'], ['cam-odd', 'alert', '1'], ['cam-ok', 'ok', '1']]);
  assert.equal(await page.$eval('#cameras tbody tr:first-child td:nth-child(5)', (td) => td.className), 'alert', 'the verdict is coloured by its class');
  const alerts = await page.$$eval('#alerts tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  assert.equal(alerts.length, 2);
  const dim = alerts.find((a) => a[2]!.startsWith('p/e/cam-dim:'));
  assert.ok(dim, JSON.stringify(alerts));
  assert.equal(dim[1], 'critical');
  assert.match(dim[2]!, /^p\/e\/cam-dim: illumination: brightness mean 60\.0 \(z = \u22126\.0\); input drift/);
  assert.equal(dim[3], 'input-drift');
  const shown = alerts.find((a) => a[2]!.startsWith('p/e/cam-odd:'));
  assert.ok(shown?.[2]!.includes(`psi:${markup}`), `the markup is shown as text: ${JSON.stringify(shown)}`);
  assert.equal(await page.locator('#alerts img').count(), 0, 'no element was made from it');
  assert.notEqual(await page.title(), 'pwned', 'no script from it ran');
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

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
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
  await page.waitForFunction(`document.querySelectorAll('#alerts tbody tr').length === ${count}`, undefined, { timeout: 30_000 }).catch(() => undefined);
  // Let one more refresh (every 3 s) render the same rows again.
  await page.waitForTimeout(3500);

  const cells = await page.$$eval('#alerts tbody tr', (rows) => rows.map((r) => [...r.children].map((td) => ({ tag: td.tagName, text: td.textContent ?? '', children: td.childElementCount }))));
  assert.equal(cells.length, count, 'one row per alert, none added by a payload');
  for (const row of cells) {
    assert.deepEqual(row.map((x) => x.tag), ['TD', 'TD', 'TD', 'TD'], `four cells a row: ${JSON.stringify(row)}`);
    assert.ok(row.every((x) => x.children === 0), `cells hold text only: ${JSON.stringify(row)}`);
  }
  // The page shows each alert's summary exactly as the API returns it ...
  assert.deepEqual(cells.map((r) => r[2]!.text).sort(), api.map((a) => a.annotations.summary).sort(), 'each summary shown as the API returns it');
  // ... so every hostile string is on it, as written (entity text included, not decoded).
  for (const e of expected) assert.ok(cells.some((r) => r[2]!.text.includes(e.text)), `the ${e.field} is shown literally: ${e.text}`);
  assert.ok(cells.some((r) => r[2]!.text.includes('&lt;b&gt;bold&lt;/b&gt; &amp;')), 'entity text is shown as typed');

  // No element was made from any of it, anywhere on the page: only the page's own.
  // (Run in the page: a string, as this project compiles without the DOM's types.)
  const made = (await page.evaluate(`({
    inTables: [...document.querySelectorAll('table *')].map((e) => e.tagName).filter((tag) => !['THEAD', 'TBODY', 'TR', 'TH', 'TD'].includes(tag)),
    tables: document.querySelectorAll('table').length,
    scripts: document.querySelectorAll('script').length,
    links: [...document.querySelectorAll('a')].map((a) => a.getAttribute('href')),
    foreign: document.querySelectorAll('img, svg, iframe, b, textarea, body style').length,
    styles: document.querySelectorAll('style').length,
    comments: document.createTreeWalker(document.body, NodeFilter.SHOW_COMMENT).nextNode() !== null,
    shown: getComputedStyle(document.querySelector('#alerts')).display,
    pw: window.pw,
  })`)) as { inTables: string[]; tables: number; scripts: number; links: string[]; foreign: number; styles: number; comments: boolean; shown: string; pw: unknown };
  assert.deepEqual(made.inTables, [], 'only table structure inside the tables');
  assert.equal(made.tables, 2);
  assert.equal(made.scripts, 1, "the page's own script only");
  assert.deepEqual(made.links, ['/api/v1/devices', '/api/v1/cameras', '/api/v1/alerts', '/metrics'], "the page's own links only");
  assert.equal(made.foreign, 0, 'no img, svg, iframe, style, b or textarea made');
  assert.equal(made.styles, 1, "the page's own style sheet only");
  assert.equal(made.comments, false, 'no comment opened');
  assert.equal(made.shown, 'table', 'the alerts table is still shown');
  // Hovering each summary cell would fire an onmouseover made from a payload.
  for (const cell of await page.locator('#alerts tbody td:nth-child(3)').all()) await cell.hover();
  assert.equal(await page.evaluate('window.pw'), undefined, 'no script from a payload ran');
  assert.equal(made.pw, undefined);
  assert.equal(await page.title(), 'Driftline collector', "the title is the page's own");
  assert.deepEqual(dialogs, []);
  assert.deepEqual(errors, []);
});
