/**
 * The progress lines of long jobs (evaluate, baseline, synth): the ETA is the stage's own rate, so a
 * stage whose first report is an already finished step shows none until a second one gives it a rate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressBar } from '../../cli/args.js';

test('progress: an ETA only once the stage has a rate; the time taken at its end', () => {
  const lines: string[] = [];
  let t = 0;
  const p = progressBar({ isTTY: false, write: (s: string) => lines.push(s.trim()) }, () => t);
  // A stage first reported at 1 of 10 (its first step finished before it could say so): no rate.
  p('corruptions', 1, 10);
  t = 30_000;
  p('corruptions', 2, 10); // one step in 30 s, 8 left
  t = 60_000;
  p('corruptions', 10, 10);
  // A stage reported from 0: its first finished step gives the rate.
  p('latency', 0, 4);
  t = 62_000;
  p('latency', 1, 4); // 2 s a step, 3 left
  assert.deepEqual(lines, ['corruptions 1/10 (10%)', 'corruptions 2/10 (20%) ETA 4:00', 'corruptions 10/10 (100%) in 1:00', 'latency 0/4 (0%)', 'latency 1/4 (25%) ETA 0:06']);
});
