import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { Detector } from '../../agent/infer/detector.js';
import { loadModel } from '../../agent/infer/model.js';
import { decodeImage } from '../../agent/preprocess/letterbox.js';
import { readEvalSet } from '../../agent/readiness/dataset.js';
import { iou } from '../../agent/readiness/metrics.js';
import type { ReadinessReport } from '../../agent/readiness/report.js';
import { MODEL, ROOT, cli } from '../helpers/cli.js';

const THRESHOLD = 0.25;

test('evaluate on a rendered set with a lighting column: dark flagged, the held-out burn failing as the raw detections say, and a report that opens in Chromium', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-evaluate-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const data = join(dir, 'set');
  // Light from very dark to nominal, 30% defects and burns on 25% of parts.
  const synth = await cli('synth', '--out', data, '--count', '160', '--seed', '61', '--val', '1', '--gain', '0.3:1.05', '--defectRate', '0.3', '--heldOutRate', '0.25');
  assert.equal(synth.code, 0, synth.stderr);
  // A free-form lighting column, as a plant would keep it: dark below gain 0.5.
  const manifest = (await readFile(join(data, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { image: string; conditions: { gain: number } });
  await writeFile(join(dir, 'lighting.csv'), ['image,lighting,shift', ...manifest.map((m) => `${m.image},${m.conditions.gain < 0.5 ? 'dark' : 'nominal'},"night, line 2"`)].join('\n') + '\n');
  const out = join(dir, 'report');
  const thresholds = 'washer=0.25,bracket=0.25,scratch=0.25,missing_notch=0.25';
  const r = await cli('evaluate', '--model', MODEL, '--data', data, '--conditions-csv', join(dir, 'lighting.csv'), '--conditions', 'lighting', '--thresholds', thresholds, '--corruptions', 'darker,roll', '--corruption-images', '12', '--latency-runs', '20', '--out', out);
  assert.match(r.stderr, /detect \d+\/160/, 'progress on stderr');
  const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as ReadinessReport;
  // The exit status follows the checklist: 3 when a row fails (a CI step stops), 0 otherwise.
  const line = JSON.parse(r.stdout) as { verdict: string };
  assert.equal(line.verdict, report.checklist.some((c) => c.status === 'fail') ? 'fail' : report.checklist.some((c) => c.status === 'warn') ? 'warn' : 'pass');
  assert.equal(r.code, line.verdict === 'fail' ? 3 : 0, r.stderr);
  assert.equal(report.data.images, 160);
  assert.deepEqual(report.data.conditionColumns, ['lighting']);

  // The dark condition is flagged degraded, and only the dark one.
  const flagged = report.conditions.flags;
  assert.ok(flagged.length > 0, 'some class degrades in the dark');
  assert.ok(flagged.every((f) => f.column === 'lighting' && f.value === 'dark'), JSON.stringify(flagged));
  assert.equal(report.checklist.find((c) => c.id === 'per-class-errors')!.status !== 'pass', true);

  // What the burnt parts do, decided here from raw detections at the same thresholds.
  const set = await readEvalSet(data);
  const model = await loadModel(MODEL, { providers: ['cpu'], intraOpThreads: 1 });
  const det = new Detector(model, { conf: THRESHOLD, slots: 1 });
  const burn = set.classNames.indexOf('burn');
  let silent = 0;
  let quiet = 0;
  for (const im of set.images) {
    const burns = im.objects.filter((o) => o.classId === burn);
    if (!burns.length) continue;
    const slot = await det.detect(await decodeImage(im.file));
    const d = slot.detections;
    for (const b of burns) {
      let claimed = false;
      for (let i = 0; i < d.count; i++) {
        const k = i * 4;
        if (d.scores[i]! >= THRESHOLD && iou({ classId: 0, x1: d.boxes[k]!, y1: d.boxes[k + 1]!, x2: d.boxes[k + 2]!, y2: d.boxes[k + 3]! }, b) >= 0.5) claimed = true;
      }
      if (claimed) silent++;
      else quiet++;
    }
  }
  await det.close();
  assert.ok(silent + quiet > 30, `${silent + quiet} burnt parts`);
  const expected = silent >= quiet ? 'silent' : 'low-confidence';
  const row = report.ood.heldOut.find((h) => h.name === 'burn');
  assert.ok(row, 'burn is reported as a held-out class');
  assert.equal(row.objects, silent + quiet);
  assert.equal(row.silent, silent);
  assert.equal(row.verdict, expected);

  // The HTML: self-contained, no console errors, charts present; a screenshot for people.
  const html = await readFile(join(out, 'report.html'), 'utf8');
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no script and no network');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const requests: string[] = [];
  page.on('request', (q) => {
    if (!q.url().startsWith('file:')) requests.push(q.url());
  });
  await page.goto(`file://${join(out, 'report.html')}`);
  const rows = await page.$$eval('table:first-of-type tr td:first-child', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(rows, ['Test data provenance', 'Class distribution and thresholds', 'Per-class error metrics', 'Throughput under load', 'OOD behaviour', 'Drift monitoring']);
  assert.ok((await page.$$('svg')).length >= 6, 'PR curves, condition bars and confidence histograms');
  const shots = join(ROOT, '.tmp', 'screenshots');
  await mkdir(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'readiness-report.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, []);
});

test('evaluate refuses what it cannot use, naming it', async (t) => {
  const r = await cli('evaluate', '--model', MODEL);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /DRIFTLINE_ERR_USAGE: --model FILE and --data EVALSET are required/);
  const c = await cli('evaluate', '--model', MODEL, '--data', '/nonexistent', '--corruptions', 'fog');
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--corruptions: unknown corruption "fog"/);
  const d = await cli('evaluate', '--model', MODEL, '--data', '/nonexistent/set');
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /DRIFTLINE_ERR_DATASET|DRIFTLINE_ERR_USAGE/);

  // A report folder it cannot write, and an OOD folder that is not there: said before any image is
  // scored (no progress line), with the flag, not as an unexpected error after minutes of work.
  const dir = await mkdtemp(join(tmpdir(), 'driftline-evaluate-refuse-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const data = join(dir, 'set');
  assert.equal((await cli('synth', '--out', data, '--count', '6', '--seed', '7', '--val', '1')).code, 0);
  await writeFile(join(dir, 'a-file'), 'x');
  const o = await cli('evaluate', '--model', MODEL, '--data', data, '--out', join(dir, 'a-file', 'report'));
  assert.equal(o.code, 2, o.stderr);
  assert.match(o.stderr, /DRIFTLINE_ERR_USAGE: --out .*a-file\/report: the report cannot be written there \((ENOTDIR|EEXIST)\)/);
  const f = await cli('evaluate', '--model', MODEL, '--data', data, '--ood', join(dir, 'no-such-folder'), '--out', join(dir, 'report'));
  assert.equal(f.code, 1, f.stderr);
  assert.match(f.stderr, /DRIFTLINE_ERR_DATASET: .*no-such-folder: the OOD folder \(--ood\) cannot be read: ENOENT/);
  for (const x of [o, f]) assert.doesNotMatch(x.stderr, /unexpected error|detect \d+\//);
  assert.ok(!existsSync(join(dir, 'report')), 'a failed run leaves no report folder it made');
});
