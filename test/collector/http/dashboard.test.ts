/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core): it lists the
 * cameras with their last verdict and the active alerts, read from the API, and escapes what
 * devices send.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { chromium } from 'playwright-core';
import { summaryTopic } from '../../../protocol/topics.js';
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
  assert.match(dim[2]!, /^p\/e\/cam-dim: input drift, psi:brightness 0.700/);
  assert.equal(dim[3], 'input-drift');
  const shown = alerts.find((a) => a[2]!.startsWith('p/e/cam-odd:'));
  assert.ok(shown?.[2]!.includes(`psi:${markup}`), `the markup is shown as text: ${JSON.stringify(shown)}`);
  assert.equal(await page.locator('#alerts img').count(), 0, 'no element was made from it');
  assert.notEqual(await page.title(), 'pwned', 'no script from it ran');
  assert.deepEqual(errors, []);
});
