/**
 * Renders a LineScene into an RGB24 frame. Every buffer is allocated once in the constructor and
 * reused, so a renderer can serve as a live 640x480 camera at well over 30 fps on one core
 * (bench/synth.bench.ts measures it).
 */
import { Rng } from './rng.js';
import type { Conditions } from './conditions.js';
import { BRACKET_HALF_H, BRACKET_HALF_W, occluderLeft, REFERENCE_WIDTH, type LineScene, type Part } from './scene.js';

const TEXTURE_W = 1024;
const NOISE_TABLE = 1 << 16;

/** Per-channel multipliers of a light at `kelvin`, neutral at 5500 K. */
export function colourTemperatureGains(kelvin: number): [number, number, number] {
  const t = Math.log2(kelvin / 5500);
  return [1 - 0.35 * t, 1 - 0.04 * Math.abs(t), 1 + 0.35 * t];
}

export class SceneRenderer {
  /** The rendered frame, RGB24, row-major; overwritten by every render() call. */
  readonly output: Uint8Array;
  private readonly outClamped: Uint8ClampedArray;
  private readonly scene: Uint8ClampedArray;
  private readonly spare: Uint8ClampedArray;
  private readonly texture: Uint8Array;
  private readonly noise: Float32Array;
  private readonly rng: Rng;

  constructor(
    readonly width: number,
    readonly height: number,
    seed: number,
  ) {
    const n = width * height * 3;
    this.output = new Uint8Array(n);
    this.outClamped = new Uint8ClampedArray(this.output.buffer, this.output.byteOffset, n);
    this.scene = new Uint8ClampedArray(n);
    this.spare = new Uint8ClampedArray(n);
    this.rng = new Rng(seed ^ 0x5eed);
    this.texture = this.makeBeltTexture();
    this.noise = new Float32Array(NOISE_TABLE);
    for (let i = 0; i < NOISE_TABLE; i++) this.noise[i] = this.rng.gaussian();
  }

  private makeBeltTexture(): Uint8Array {
    const tex = new Uint8Array(TEXTURE_W * this.height);
    const rowShift = new Float32Array(this.height);
    for (let y = 0; y < this.height; y++) rowShift[y] = this.rng.range(-5, 5);
    const seamEvery = TEXTURE_W / 4;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < TEXTURE_W; x++) {
        let v = 62 + rowShift[y]! + this.rng.range(-7, 7);
        const m = x % seamEvery;
        if (m < 4) v -= 22; // belt seam
        else if (m < 7) v += 10; // seam highlight
        tex[y * TEXTURE_W + x] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
    return tex;
  }

  /** Renders the scene under the given conditions and returns `output`. */
  render(s: LineScene, c: Conditions): Uint8Array {
    this.drawBackground(s);
    for (const p of s.parts) this.drawPart(p);
    let src = this.scene;
    if (c.rotationDeg !== 0 || c.offsetX !== 0 || c.offsetY !== 0) {
      this.warp(this.scene, this.spare, c);
      src = this.spare;
    }
    this.drawOccluder(src, c);
    const r = Math.round(c.blur);
    if (r >= 1) {
      const tmp = src === this.scene ? this.spare : this.scene;
      for (let pass = 0; pass < 2; pass++) {
        boxBlurRows(src, tmp, this.width, this.height, r);
        boxBlurCols(tmp, src, this.width, this.height, r);
      }
    }
    this.applyLight(src, c);
    return this.output;
  }

  private drawBackground(s: LineScene): void {
    const { width: w, height: h } = this;
    const buf = this.scene;
    const shift = ((Math.round(s.beltOffset) % TEXTURE_W) + TEXTURE_W) % TEXTURE_W;
    for (let y = 0; y < h; y++) {
      let i = y * w * 3;
      if (y < s.beltTop || y >= s.beltBottom) {
        // Steel side rails with a vertical gradient, in reference pixels: the same at any frame size.
        const d = ((y < s.beltTop ? s.beltTop - y : y - s.beltBottom) * REFERENCE_WIDTH) / w;
        const v = 150 - d * 0.9;
        for (let x = 0; x < w; x++, i += 3) {
          buf[i] = v;
          buf[i + 1] = v + 2;
          buf[i + 2] = v + 6;
        }
        continue;
      }
      const row = y * TEXTURE_W;
      for (let x = 0; x < w; x++, i += 3) {
        const g = this.texture[row + ((x - shift + TEXTURE_W * 4) & (TEXTURE_W - 1))]!;
        buf[i] = g * 0.92;
        buf[i + 1] = g;
        buf[i + 2] = g * 0.96;
      }
    }
  }

  private drawPart(p: Part): void {
    const { width: w, height: h } = this;
    const buf = this.scene;
    const half = p.size * 0.6;
    const x0 = Math.max(0, Math.floor(p.x - half));
    const x1 = Math.min(w - 1, Math.ceil(p.x + half));
    const y0 = Math.max(0, Math.floor(p.y - half));
    const y1 = Math.min(h - 1, Math.ceil(p.y + half));
    if (x1 < x0 || y1 < y0) return;
    const inv = 1 / p.size;
    const cos = Math.cos(p.angle) * inv;
    const sin = Math.sin(p.angle) * inv;
    const washer = p.kind === 'washer';
    const notch = p.defect !== 'missing_notch';
    const scratch = p.defect === 'scratch';
    const burn = p.defect === 'burn';
    const stain = p.defect === 'stain';
    const [su0, sv0, su1, sv1] = p.scratch;
    const sdu = su1 - su0;
    const sdv = sv1 - sv0;
    const slen2 = sdu * sdu + sdv * sdv;
    const [bu, bv, br] = p.burn;
    const br2 = br * br;
    const [tu, tv, ta, tb, tang] = p.stain;
    const tcos = Math.cos(tang);
    const tsin = Math.sin(tang);
    const ia2 = stain ? 1 / (ta * ta) : 0;
    const ib2 = stain ? 1 / (tb * tb) : 0;
    const baseR = (washer ? 185 : 62) * p.tone;
    const baseG = (washer ? 186 : 96) * p.tone;
    const baseB = (washer ? 192 : 152) * p.tone;
    const hh = BRACKET_HALF_H;
    const hw = BRACKET_HALF_W;
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - p.y;
      let i = (y * w + x0) * 3;
      for (let x = x0; x <= x1; x++, i += 3) {
        const dx = x + 0.5 - p.x;
        const u = dx * cos + dy * sin;
        const v = dy * cos - dx * sin;
        let shade: number;
        if (washer) {
          const r2 = u * u + v * v;
          if (r2 > 0.25 || r2 < 0.04) continue;
          if (notch && u > 0.3 && v < 0.1 && v > -0.1) continue;
          shade = 0.8 + 0.45 * (u * 0.6 - v * 0.8) + (r2 > 0.2 ? -0.12 : 0);
        } else {
          if (u > hw || u < -hw || v > hh || v < -hh) continue;
          if (notch && v < -0.12 && u < 0.12 && u > -0.12) continue;
          const hu = u > 0 ? u - 0.32 : u + 0.32;
          const hv = v - 0.05;
          if (hu * hu + hv * hv < 0.0049) continue;
          shade = 0.9 + 0.25 * (u * 0.5 - v * 0.5);
        }
        let r = baseR * shade;
        let g = baseG * shade;
        let b = baseB * shade;
        if (scratch) {
          let t = ((u - su0) * sdu + (v - sv0) * sdv) / slen2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const eu = u - su0 - t * sdu;
          const ev = v - sv0 - t * sdv;
          if (eu * eu + ev * ev < 0.0005) {
            const k = washer ? 55 : 220;
            r = k;
            g = k;
            b = k + 4;
          }
        } else if (burn) {
          const d2 = ((u - bu) * (u - bu) + (v - bv) * (v - bv)) / br2;
          if (d2 < 1) {
            const a = 1 - d2 * d2;
            r = r * (1 - a) + 74 * a;
            g = g * (1 - a) + 42 * a;
            b = b * (1 - a) + 24 * a;
          }
        } else if (stain) {
          // A translucent teal coolant smear, darker at its rim where it dried (a coffee ring).
          const eu = (u - tu) * tcos + (v - tv) * tsin;
          const ev = (v - tv) * tcos - (u - tu) * tsin;
          const d2 = eu * eu * ia2 + ev * ev * ib2;
          if (d2 < 1) {
            const edge = (1 - d2) * 8;
            const a = (0.4 + 0.3 * d2) * (edge < 1 ? edge : 1);
            r = r * (1 - a) + 30 * a;
            g = g * (1 - a) + 150 * a;
            b = b * (1 - a) + 135 * a;
          }
        }
        buf[i] = r;
        buf[i + 1] = g;
        buf[i + 2] = b;
      }
    }
  }

  /** Output pixel <- world pixel under the inverse camera transform (nearest neighbour, clamped). */
  private warp(src: Uint8ClampedArray, dst: Uint8ClampedArray, c: Conditions): void {
    const { width: w, height: h } = this;
    const th = (-c.rotationDeg * Math.PI) / 180;
    const cos = Math.cos(th);
    const sin = Math.sin(th);
    const cx = w / 2;
    const cy = h / 2;
    let i = 0;
    for (let y = 0; y < h; y++) {
      const ry = y + 0.5 - cy - c.offsetY;
      for (let x = 0; x < w; x++, i += 3) {
        const rx = x + 0.5 - cx - c.offsetX;
        let sx = Math.floor(cos * rx - sin * ry + cx);
        let sy = Math.floor(sin * rx + cos * ry + cy);
        sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
        sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
        const j = (sy * w + sx) * 3;
        dst[i] = src[j]!;
        dst[i + 1] = src[j + 1]!;
        dst[i + 2] = src[j + 2]!;
      }
    }
  }

  private drawOccluder(buf: Uint8ClampedArray, c: Conditions): void {
    const left = occluderLeft(c, this.width);
    if (left >= this.width) return;
    for (let y = 0; y < this.height; y++) {
      const v = 30 + (y / this.height) * 14;
      for (let x = left, i = (y * this.width + left) * 3; x < this.width; x++, i += 3) {
        buf[i] = v;
        buf[i + 1] = v + 1;
        buf[i + 2] = v + 4;
      }
    }
  }

  private applyLight(src: Uint8ClampedArray, c: Conditions): void {
    const [tr, tg, tb] = colourTemperatureGains(c.colourTempK);
    const fr = c.gain * tr;
    const fg = c.gain * tg;
    const fb = c.gain * tb;
    const sd = c.noise;
    const out = this.outClamped;
    const noise = this.noise;
    const mask = NOISE_TABLE - 1;
    let k = Math.floor(this.rng.next() * NOISE_TABLE);
    const n = src.length;
    if (sd === 0) {
      for (let i = 0; i < n; i += 3) {
        out[i] = src[i]! * fr;
        out[i + 1] = src[i + 1]! * fg;
        out[i + 2] = src[i + 2]! * fb;
      }
      return;
    }
    for (let i = 0; i < n; i += 3) {
      // One noise draw per pixel (luma noise) plus a smaller per-channel part.
      const l = noise[k++ & mask]! * sd;
      out[i] = src[i]! * fr + l + noise[(k + 7919) & mask]! * sd * 0.3;
      out[i + 1] = src[i + 1]! * fg + l;
      out[i + 2] = src[i + 2]! * fb + l + noise[(k + 104729) & mask]! * sd * 0.3;
    }
  }
}

/** Horizontal box blur of radius r with edge clamping, O(pixels) whatever r. */
function boxBlurRows(src: Uint8ClampedArray, dst: Uint8ClampedArray, w: number, h: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let ch = 0; ch < 3; ch++) {
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += src[row + Math.min(w - 1, Math.max(0, k)) * 3 + ch]!;
      for (let x = 0; x < w; x++) {
        dst[row + x * 3 + ch] = acc * norm;
        const add = Math.min(w - 1, x + r + 1);
        const sub = Math.max(0, x - r);
        acc += src[row + add * 3 + ch]! - src[row + sub * 3 + ch]!;
      }
    }
  }
}

/** Vertical box blur of radius r with edge clamping. */
function boxBlurCols(src: Uint8ClampedArray, dst: Uint8ClampedArray, w: number, h: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  const stride = w * 3;
  for (let x = 0; x < w; x++) {
    for (let ch = 0; ch < 3; ch++) {
      const col = x * 3 + ch;
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += src[Math.min(h - 1, Math.max(0, k)) * stride + col]!;
      for (let y = 0; y < h; y++) {
        dst[y * stride + col] = acc * norm;
        const add = Math.min(h - 1, y + r + 1);
        const sub = Math.max(0, y - r);
        acc += src[add * stride + col]! - src[sub * stride + col]!;
      }
    }
  }
}
