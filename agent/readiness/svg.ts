/**
 * Inline SVG charts for report.html: a line chart (PR curves), grouped bars (per-condition
 * metrics) and histograms (confidence under corruption). Plain strings, no library and no network,
 * so the report opens on an air-gapped plant PC. Every text that comes from data (class names,
 * condition values) is escaped.
 */

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A palette that stays apart for the colour-blind (Okabe–Ito). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
  /** Index into PALETTE; defaults to the series' position. */
  readonly colour?: number;
}

const W = 360;
const H = 240;
const M = { l: 44, r: 10, t: 24, b: 36 };

function axes(title: string, xLabel: string, yLabel: string, ticks: readonly number[]): string {
  const iw = W - M.l - M.r;
  const ih = H - M.t - M.b;
  const parts = [`<text x="${W / 2}" y="14" text-anchor="middle" class="t">${esc(title)}</text>`];
  for (const v of ticks) {
    const x = M.l + v * iw;
    const y = M.t + (1 - v) * ih;
    parts.push(`<line x1="${M.l}" y1="${y.toFixed(1)}" x2="${W - M.r}" y2="${y.toFixed(1)}" class="g"/>`);
    parts.push(`<text x="${M.l - 4}" y="${(y + 3).toFixed(1)}" text-anchor="end" class="k">${v.toFixed(1)}</text>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${H - M.b + 12}" text-anchor="middle" class="k">${v.toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${M.l}" y="${M.t}" width="${iw}" height="${ih}" class="f"/>`);
  parts.push(`<text x="${M.l + iw / 2}" y="${H - 4}" text-anchor="middle" class="k">${esc(xLabel)}</text>`);
  parts.push(`<text x="10" y="${M.t + ih / 2}" text-anchor="middle" class="k" transform="rotate(-90 10 ${M.t + ih / 2})">${esc(yLabel)}</text>`);
  return parts.join('');
}

function legend(names: readonly { name: string; colour: number; dashed?: boolean }[]): string {
  return names
    .map((s, i) => {
      const y = M.t + 8 + i * 13;
      const x = W - M.r - 120;
      return `<line x1="${x}" y1="${y}" x2="${x + 16}" y2="${y}" stroke="${PALETTE[s.colour % PALETTE.length]}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/><text x="${x + 20}" y="${y + 3}" class="k">${esc(s.name)}</text>`;
    })
    .join('');
}

/** Lines in the unit square (x, y in [0, 1]), e.g. recall against precision. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[], markers: readonly { x: number; y: number; label: string }[] = []): string {
  const iw = W - M.l - M.r;
  const ih = H - M.t - M.b;
  const px = (x: number): string => (M.l + Math.max(0, Math.min(1, x)) * iw).toFixed(1);
  const py = (y: number): string => (M.t + (1 - Math.max(0, Math.min(1, y))) * ih).toFixed(1);
  const lines = series.map((s, i) => {
    const colour = PALETTE[(s.colour ?? i) % PALETTE.length];
    const d = s.points.map(([x, y], k) => `${k ? 'L' : 'M'}${px(x)},${py(y)}`).join('');
    return d ? `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>` : '';
  });
  const marks = markers.filter((m) => Number.isFinite(m.x) && Number.isFinite(m.y)).map((m) => `<circle cx="${px(m.x)}" cy="${py(m.y)}" r="3.5" class="m"><title>${esc(m.label)}</title></circle>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${axes(title, xLabel, yLabel, [0, 0.2, 0.4, 0.6, 0.8, 1])}${lines.join('')}${marks.join('')}${legend(series.map((s, i) => ({ name: s.name, colour: s.colour ?? i, ...(s.dashed ? { dashed: true } : {}) })))}</svg>`;
}

/** Horizontal room per legend entry of a bar chart: its swatch and a class name. */
const LEGEND_STEP = 110;

/** Vertical bars in [0, 1], grouped: one group per label, one bar per series. */
export function barChart(title: string, yLabel: string, labels: readonly string[], series: readonly { name: string; values: readonly number[] }[], reference?: { value: number; label: string }): string {
  // Wide enough for the groups, and for the legend's row of 110-px entries under them.
  const width = Math.max(W, M.l + M.r + labels.length * (series.length * 12 + 14), M.l + series.length * LEGEND_STEP);
  const iw = width - M.l - M.r;
  const ih = H - M.t - M.b - 24;
  const group = iw / Math.max(1, labels.length);
  const bw = Math.max(3, Math.min(14, (group - 8) / Math.max(1, series.length)));
  const parts: string[] = [`<text x="${width / 2}" y="14" text-anchor="middle" class="t">${esc(title)}</text>`];
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const y = M.t + (1 - v) * ih;
    parts.push(`<line x1="${M.l}" y1="${y.toFixed(1)}" x2="${width - M.r}" y2="${y.toFixed(1)}" class="g"/><text x="${M.l - 4}" y="${(y + 3).toFixed(1)}" text-anchor="end" class="k">${v.toFixed(2)}</text>`);
  }
  labels.forEach((label, g) => {
    const x0 = M.l + g * group + (group - bw * series.length) / 2;
    series.forEach((s, k) => {
      const v = s.values[g]!;
      if (!Number.isFinite(v)) return;
      const h = Math.max(0, Math.min(1, v)) * ih;
      parts.push(`<rect x="${(x0 + k * bw).toFixed(1)}" y="${(M.t + ih - h).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[k % PALETTE.length]}"><title>${esc(`${label}, ${s.name}: ${v.toFixed(3)}`)}</title></rect>`);
    });
    const lx = M.l + g * group + group / 2;
    parts.push(`<text x="${lx.toFixed(1)}" y="${M.t + ih + 12}" text-anchor="end" class="k" transform="rotate(-30 ${lx.toFixed(1)} ${M.t + ih + 12})">${esc(label)}</text>`);
  });
  if (reference) {
    const y = M.t + (1 - reference.value) * ih;
    parts.push(`<line x1="${M.l}" y1="${y.toFixed(1)}" x2="${width - M.r}" y2="${y.toFixed(1)}" class="r"/><text x="${width - M.r}" y="${(y - 3).toFixed(1)}" text-anchor="end" class="k">${esc(reference.label)}</text>`);
  }
  parts.push(`<text x="10" y="${M.t + ih / 2}" text-anchor="middle" class="k" transform="rotate(-90 10 ${M.t + ih / 2})">${esc(yLabel)}</text>`);
  const leg = series.map((s, k) => `<rect x="${M.l + k * LEGEND_STEP}" y="${H - 12}" width="10" height="10" fill="${PALETTE[k % PALETTE.length]}"/><text x="${M.l + k * LEGEND_STEP + 14}" y="${H - 3}" class="k">${esc(s.name)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${H}" width="${width}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}${leg.join('')}</svg>`;
}

/** Histograms over [0, 1] with equal bins, drawn as outlines so several overlay. */
export function histogramChart(title: string, series: readonly { name: string; counts: readonly number[] }[]): string {
  const iw = W - M.l - M.r;
  const ih = H - M.t - M.b;
  const shares = series.map((s) => {
    const total = s.counts.reduce((a, v) => a + v, 0) || 1;
    return s.counts.map((c) => c / total);
  });
  const top = Math.max(0.05, ...shares.flat());
  const lines = shares.map((sh, i) => {
    const bins = sh.length;
    let d = '';
    sh.forEach((v, b) => {
      const x0 = M.l + (b / bins) * iw;
      const x1 = M.l + ((b + 1) / bins) * iw;
      const y = M.t + (1 - v / top) * ih;
      d += `${b ? 'L' : 'M'}${x0.toFixed(1)},${y.toFixed(1)}L${x1.toFixed(1)},${y.toFixed(1)}`;
    });
    return `<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.6"/>`;
  });
  const parts = [`<text x="${W / 2}" y="14" text-anchor="middle" class="t">${esc(title)}</text>`, `<rect x="${M.l}" y="${M.t}" width="${iw}" height="${ih}" class="f"/>`];
  for (const v of [0, 0.2, 0.4, 0.6, 0.8, 1]) parts.push(`<text x="${(M.l + v * iw).toFixed(1)}" y="${H - M.b + 12}" text-anchor="middle" class="k">${v.toFixed(1)}</text>`);
  parts.push(`<text x="${M.l + iw / 2}" y="${H - 4}" text-anchor="middle" class="k">best score on the object</text>`);
  parts.push(`<text x="${M.l - 4}" y="${M.t + 8}" text-anchor="end" class="k">${(top * 100).toFixed(0)}%</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}${lines.join('')}${legend(series.map((s, i) => ({ name: s.name, colour: i })))}</svg>`;
}
