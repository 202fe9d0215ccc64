/**
 * Image-space corruptions for the out-of-distribution part of the readiness report: what the model
 * does when the light, the lens, the link or the mounting is off, at three levels each. They
 * work on any decoded frame, so they apply to a user's own evaluation set, not only to the
 * synthetic line (whose renderer can draw the same conditions natively).
 *
 * Each corruption takes an RGB24 frame and returns a new one; roll also moves the ground truth
 * (the rotated corners' bounding box, clipped to the frame). Roll zooms in just enough that the
 * turned picture still fills the frame, as a camera turned on its mount shows the scene: filling the
 * corners with black instead drew four dark wedges no camera makes, and the model's false alarms on
 * them (3 degrees: 13 a frame on the synthetic line) would be blamed on the roll. Noise is seeded by the image index, so
 * a report is reproducible.
 */
import sharp from 'sharp';
import type { RawFrame } from '../preprocess/letterbox.js';
import { Rng } from '../synth/rng.js';
import { colourTemperatureGains } from '../synth/render.js';
import type { Box } from './metrics.js';

export const CORRUPTIONS = ['darker', 'brighter', 'warm-light', 'blur', 'noise', 'jpeg', 'occlusion', 'roll'] as const;
export type CorruptionName = (typeof CORRUPTIONS)[number];
export const CORRUPTION_LEVELS = [1, 2, 3] as const;
export type CorruptionLevel = (typeof CORRUPTION_LEVELS)[number];

/** The parameter of each corruption at levels 1, 2, 3, and its unit, for the report. */
const CORRUPTION_SETTINGS: Readonly<Record<CorruptionName, { readonly levels: readonly [number, number, number]; readonly what: string }>> = {
  darker: { levels: [0.7, 0.5, 0.3], what: 'gain' },
  brighter: { levels: [1.3, 1.6, 2.0], what: 'gain' },
  'warm-light': { levels: [4300, 3500, 2800], what: 'K' },
  blur: { levels: [1, 2, 4], what: 'px box radius, 2 passes' },
  noise: { levels: [8, 16, 32], what: 'grey levels, Gaussian sigma' },
  jpeg: { levels: [30, 15, 5], what: 'JPEG quality' },
  occlusion: { levels: [0.15, 0.3, 0.45], what: 'of the width covered from the left' },
  roll: { levels: [3, 7, 12], what: 'degrees' },
};

export function describeCorruption(name: CorruptionName, level: CorruptionLevel): string {
  const c = CORRUPTION_SETTINGS[name];
  const v = c.levels[level - 1]!;
  return name === 'occlusion' ? `${Math.round(v * 100)}% ${c.what}` : `${v} ${c.what}`;
}

/** Parses `--corruptions all|none|darker,blur,...`. */
export function parseCorruptions(raw: string): CorruptionName[] {
  if (raw === 'all') return [...CORRUPTIONS];
  if (raw === 'none' || raw === '') return [];
  const names = raw.split(',').map((s) => s.trim());
  for (const n of names) if (!(CORRUPTIONS as readonly string[]).includes(n)) throw new RangeError(`unknown corruption ${JSON.stringify(n)}; have ${CORRUPTIONS.join(', ')}`);
  return names as CorruptionName[];
}

/** The corrupted copy of a frame. */
export async function corrupt(frame: RawFrame, name: CorruptionName, level: CorruptionLevel, seed: number): Promise<RawFrame> {
  const v = CORRUPTION_SETTINGS[name].levels[level - 1]!;
  const { width: w, height: h } = frame;
  const src = frame.data;
  const out = new Uint8Array(src.length);
  switch (name) {
    case 'darker':
    case 'brighter':
      for (let i = 0; i < src.length; i++) out[i] = clamp(src[i]! * v);
      break;
    case 'warm-light': {
      const g = colourTemperatureGains(v);
      for (let i = 0; i < src.length; i += 3) {
        out[i] = clamp(src[i]! * g[0]);
        out[i + 1] = clamp(src[i + 1]! * g[1]);
        out[i + 2] = clamp(src[i + 2]! * g[2]);
      }
      break;
    }
    case 'blur': {
      const tmp = new Uint8Array(src.length);
      out.set(src);
      for (let pass = 0; pass < 2; pass++) {
        boxBlur(out, tmp, w, h, v, 3, 3 * w);
        boxBlur(tmp, out, h, w, v, 3 * w, 3);
      }
      break;
    }
    case 'noise': {
      const rng = new Rng(seed);
      for (let i = 0; i < src.length; i++) out[i] = clamp(src[i]! + v * rng.gaussian());
      break;
    }
    case 'jpeg': {
      const encoded = await sharp(src, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: v }).toBuffer();
      const { data } = await sharp(encoded).raw().toBuffer({ resolveWithObject: true });
      out.set(data);
      break;
    }
    case 'occlusion': {
      out.set(src);
      const edge = Math.round(v * w);
      for (let y = 0; y < h; y++) out.fill(90, y * w * 3, (y * w + edge) * 3);
      break;
    }
    case 'roll': {
      const a = (v * Math.PI) / 180;
      rotate(src, out, w, h, a, rollZoom(w, h, a));
      break;
    }
  }
  return { data: out, width: w, height: h, channels: 3 };
}

/** Where a box goes under a corruption, unclipped: only roll moves boxes (the bounding box of its rotated corners). */
function moved(b: Box, name: CorruptionName, level: CorruptionLevel, width: number, height: number): [number, number, number, number] {
  if (name !== 'roll') return [b.x1, b.y1, b.x2, b.y2];
  const a = (CORRUPTION_SETTINGS.roll.levels[level - 1]! * Math.PI) / 180;
  const cx = width / 2;
  const cy = height / 2;
  const s = rollZoom(width, height, a);
  const cos = s * Math.cos(a);
  const sin = s * Math.sin(a);
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const [x, y] of [[b.x1, b.y1], [b.x2, b.y1], [b.x1, b.y2], [b.x2, b.y2]] as const) {
    const u = cx + (x - cx) * cos - (y - cy) * sin;
    const v = cy + (x - cx) * sin + (y - cy) * cos;
    x1 = Math.min(x1, u);
    y1 = Math.min(y1, v);
    x2 = Math.max(x2, u);
    y2 = Math.max(y2, v);
  }
  return [x1, y1, x2, y2];
}

/** The part of the frame a corruption leaves visible: occlusion covers a band from the left. */
function visibleLeft(name: CorruptionName, level: CorruptionLevel, width: number): number {
  return name === 'occlusion' ? Math.round(CORRUPTION_SETTINGS.occlusion.levels[level - 1]! * width) : 0;
}

/** Boxes (ignore regions, say) after the corruption, clipped to what is visible; those left with no area are dropped. */
export function corruptBoxes<T extends Box>(boxes: readonly T[], name: CorruptionName, level: CorruptionLevel, width: number, height: number): T[] {
  const left = visibleLeft(name, level, width);
  const out: T[] = [];
  for (const b of boxes) {
    const [x1, y1, x2, y2] = moved(b, name, level, width, height);
    const c = { x1: Math.max(left, x1), y1: Math.max(0, y1), x2: Math.min(width, x2), y2: Math.min(height, y2) };
    if (c.x2 - c.x1 < 1 || c.y2 - c.y1 < 1) continue;
    out.push({ ...b, ...c });
  }
  return out;
}

/** Below this share of its area in view, an object is no longer a target but an ignore region (the renderer's MIN_VISIBLE). */
const MIN_VISIBLE_SHARE = 0.4;

/**
 * Ground truth after the corruption: boxes moved by roll and clipped to what stays in view (the
 * occluder covers a band from the left). An object left with under MIN_VISIBLE_SHARE of its area
 * in view is no target any more: it becomes an ignore region, as the renderer treats a part cut by
 * the frame edge.
 */
export function corruptGroundTruth<T extends Box>(boxes: readonly T[], name: CorruptionName, level: CorruptionLevel, width: number, height: number): { boxes: T[]; ignore: Box[] } {
  const left = visibleLeft(name, level, width);
  const kept: T[] = [];
  const ignore: Box[] = [];
  for (const b of boxes) {
    const [x1, y1, x2, y2] = moved(b, name, level, width, height);
    const full = (x2 - x1) * (y2 - y1);
    const c = { x1: Math.max(left, x1), y1: Math.max(0, y1), x2: Math.min(width, x2), y2: Math.min(height, y2) };
    const area = Math.max(0, c.x2 - c.x1) * Math.max(0, c.y2 - c.y1);
    if (area <= 0) continue;
    if (full > 0 && area / full >= MIN_VISIBLE_SHARE) kept.push({ ...b, ...c });
    else ignore.push({ classId: -1, ...c });
  }
  return { boxes: kept, ignore };
}

function clamp(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/**
 * A box blur of radius r along one axis of an RGB image: `len` pixels a line, `lines` lines,
 * `step` bytes between neighbours along the line and `stride` between lines (the same routine does
 * rows and, transposed, columns). Edges repeat the border pixel.
 */
function boxBlur(src: Uint8Array, dst: Uint8Array, len: number, lines: number, r: number, step: number, stride: number): void {
  const k = 2 * r + 1;
  for (let l = 0; l < lines; l++) {
    const base = l * stride;
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let i = -r; i <= r; i++) sum += src[base + Math.min(len - 1, Math.max(0, i)) * step + c]!;
      for (let i = 0; i < len; i++) {
        dst[base + i * step + c] = Math.round(sum / k);
        sum += src[base + Math.min(len - 1, i + r + 1) * step + c]! - src[base + Math.max(0, i - r) * step + c]!;
      }
    }
  }
}

/**
 * The zoom that keeps a frame turned by `a` filled: every output pixel then samples inside the
 * source. An output corner (±w/2, ±h/2) turned back lands at most (cos a + sin a · max(w/h, h/w))
 * times as far out as the source's edge.
 */
export function rollZoom(w: number, h: number, a: number): number {
  const c = Math.abs(Math.cos(a));
  const s = Math.abs(Math.sin(a));
  return c + s * Math.max(w / h, h / w);
}

/** Turns about the centre by `a` radians and zooms by `zoom` (bilinear); a sample past the source's edge takes the edge. */
function rotate(src: Uint8Array, dst: Uint8Array, w: number, h: number, a: number, zoom: number): void {
  const cx = w / 2;
  const cy = h / 2;
  const cos = Math.cos(a) / zoom;
  const sin = Math.sin(a) / zoom;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Inverse map: where in the source this output pixel comes from.
      const sx = Math.min(w - 1, Math.max(0, cx + (x + 0.5 - cx) * cos + (y + 0.5 - cy) * sin - 0.5));
      const sy = Math.min(h - 1, Math.max(0, cy - (x + 0.5 - cx) * sin + (y + 0.5 - cy) * cos - 0.5));
      const o = (y * w + x) * 3;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(w - 1, x0 + 1);
      const y1 = Math.min(h - 1, y0 + 1);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const p00 = src[(y0 * w + x0) * 3 + c]!;
        const p01 = src[(y0 * w + x1) * 3 + c]!;
        const p10 = src[(y1 * w + x0) * 3 + c]!;
        const p11 = src[(y1 * w + x1) * 3 + c]!;
        dst[o + c] = Math.round((p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy);
      }
    }
  }
}
