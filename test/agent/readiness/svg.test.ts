/**
 * The report's inline charts: everything drawn inside the picture. A bar chart of the shipped
 * model's four classes put its fourth legend entry past the right edge, where a browser clips it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barChart } from '../../../agent/readiness/svg.js';

test('barChart: every legend entry, with its name, lies inside the viewBox', () => {
  const names = ['washer', 'bracket', 'scratch', 'missing_notch'];
  for (const labels of [['dark', 'nominal'], ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']]) {
    const svg = barChart('recall by lighting', 'recall', labels, names.map((name, k) => ({ name, values: labels.map((_, g) => (k + g) / 12) })));
    const width = Number(/viewBox="0 0 (\d+(?:\.\d+)?) /.exec(svg)![1]);
    for (const name of names) {
      const x = Number(new RegExp(`<text x="([\\d.]+)"[^>]*>${name}</text>`).exec(svg)![1]);
      // Text at the chart's 10-px font: about 6.5 px a character at most.
      assert.ok(x + name.length * 6.5 <= width, `${name} at x=${x} fits in ${width}`);
    }
  }
});
