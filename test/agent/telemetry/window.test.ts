import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONF_BINS } from '../../../agent/telemetry/detection-stats.js';
import { WindowAggregator } from '../../../agent/telemetry/window.js';

test('window summaries: hand-computed mean, sample std, extremes, summed counts and histograms, latency quantiles', () => {
  const w = new WindowAggregator(['a', 'b'], 1000);
  const hist = new Float64Array(2 * CONF_BINS);
  for (let i = 1; i <= 100; i++) {
    const fs = new Float64Array(12).fill(i % 3 === 0 ? 3 : i % 3 === 1 ? 1 : 2); // 1, 2, 3, 1, 2, 3 ...
    const ds = new Float64Array(6).fill(i);
    hist.fill(0);
    hist[5] = 1; // class a, bin 5
    hist[CONF_BINS + 19] = 2; // class b, top bin
    w.add({ ts: 10_000 + i, index: i, width: 0, height: 0, frameStats: fs, detStats: ds, classCounts: Uint32Array.of(1, 2), confHist: Uint32Array.from(hist), stageMs: Float64Array.of(i, 2 * i, 0.5) });
  }
  const s = w.aggregate();
  assert.equal(s.frames, 100);
  assert.deepEqual([s.startTs, s.endTs], [10_001, 10_100]);
  // 34 ones, 33 twos, 33 threes.
  const mean = (34 * 1 + 33 * 2 + 33 * 3) / 100;
  const variance = (34 * (1 - mean) ** 2 + 33 * (2 - mean) ** 2 + 33 * (3 - mean) ** 2) / 99;
  assert.ok(Math.abs(s.features.brightness!.mean - mean) < 1e-12);
  assert.ok(Math.abs(s.features.brightness!.std - Math.sqrt(variance)) < 1e-12);
  assert.deepEqual([s.features.brightness!.min, s.features.brightness!.max], [1, 3]);
  assert.equal(s.features.detections!.mean, 50.5);
  assert.deepEqual(s.classCounts, { a: 100, b: 200 });
  assert.equal(s.confHist.a![5], 100);
  assert.equal(s.confHist.b![19], 200);
  assert.equal(s.confHist.a!.length, CONF_BINS);
  assert.deepEqual(s.latencyMs.preprocess, { p50: 51, p95: 96, p99: 100, max: 100 });
  assert.equal(s.latencyMs.inference!.p50, 102);
  assert.ok(!w.due(10_500) && w.due(11_001));
  w.reset(0);
  assert.equal(w.count, 0);
  assert.equal(w.aggregate().frames, 0);
});
