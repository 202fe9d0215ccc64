/**
 * Letterbox preprocessing, as Ultralytics does it: scale the frame to fit the model input keeping
 * its aspect ratio, centre it, pad with grey 114. The result is written as normalised CHW float32
 * into a tensor allocated once and reused for every frame. sharp decodes image files and, in
 * `sharp` mode, does an antialiased resize; `bilinear` samples the frame directly, and `area`
 * shrinks it by whole blocks first (box-shrink.ts), then samples that.
 */
import sharp from 'sharp';
import { driftlineError } from '../../lib/errors.js';
import { BilinearTaps, resampleBilinear } from './bilinear.js';
import { BoxShrink, shrinkBox } from './box-shrink.js';
import { FrameMemory } from './frame-memory.js';
import { ownKernelDue, type KernelEngine } from './kernel-engine.js';
import { WasmBilinear, wasmBilinearAvailable } from './wasm-bilinear.js';
import { WasmShrink, wasmShrinkAvailable } from './wasm-shrink.js';

export interface Letterbox {
  /** Source frame size. */
  readonly srcW: number;
  readonly srcH: number;
  /** Model input size. */
  readonly dstW: number;
  readonly dstH: number;
  /** Size of the resized image inside the padding. */
  readonly newW: number;
  readonly newH: number;
  readonly left: number;
  readonly top: number;
}

/** Geometry of the letterbox of a srcW x srcH frame into dstW x dstH (Ultralytics rounding). */
export function letterboxGeometry(srcW: number, srcH: number, dstW: number, dstH: number): Letterbox {
  const r = Math.min(dstH / srcH, dstW / srcW);
  const newW = Math.max(1, Math.round(srcW * r));
  const newH = Math.max(1, Math.round(srcH * r));
  const dw = (dstW - newW) / 2;
  const dh = (dstH - newH) / 2;
  return { srcW, srcH, dstW, dstH, newW, newH, left: Math.max(0, Math.round(dw - 0.1)), top: Math.max(0, Math.round(dh - 0.1)) };
}

/** Maps boxes (x1,y1,x2,y2 quadruples, model-input pixels) back to source pixels, in place, clipped. */
export function unletterboxBoxes(lb: Letterbox, boxes: Float32Array, count: number): void {
  const sx = lb.srcW / lb.newW;
  const sy = lb.srcH / lb.newH;
  for (let i = 0; i < count * 4; i += 4) {
    boxes[i] = clamp((boxes[i]! - lb.left) * sx, 0, lb.srcW);
    boxes[i + 1] = clamp((boxes[i + 1]! - lb.top) * sy, 0, lb.srcH);
    boxes[i + 2] = clamp((boxes[i + 2]! - lb.left) * sx, 0, lb.srcW);
    boxes[i + 3] = clamp((boxes[i + 3]! - lb.top) * sy, 0, lb.srcH);
  }
}

/** Maps one source-pixel point into model-input pixels (the forward transform). */
export function letterboxPoint(lb: Letterbox, x: number, y: number): [number, number] {
  return [x * (lb.newW / lb.srcW) + lb.left, y * (lb.newH / lb.srcH) + lb.top];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** A raw interleaved RGB frame, as cameras and the synthetic renderer deliver it. */
export interface RawFrame {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
}

export function checkFrame(f: RawFrame): void {
  const expected = f.width * f.height * f.channels;
  if (f.data.length !== expected) {
    throw driftlineError('DRIFTLINE_ERR_FRAME_SIZE', { width: f.width, height: f.height, channels: f.channels, expected, actual: f.data.length });
  }
}

const INV255 = new Float32Array(256).map((_, i) => i / 255);

/**
 * Writes HWC uint8 RGB (w x h) into CHW float32 [0,1] planes of dstW x dstH at (left, top). With the
 * defaults it converts a whole tensor. No allocation.
 */
export function hwcToChw(src: Uint8Array, dst: Float32Array, w: number, h: number, dstW = w, dstH = h, left = 0, top = 0): void {
  const plane = dstW * dstH;
  const lut = INV255;
  let i = 0;
  for (let y = 0; y < h; y++) {
    let p = (top + y) * dstW + left;
    for (let x = 0; x < w; x++, p++, i += 3) {
      dst[p] = lut[src[i]!]!;
      dst[p + plane] = lut[src[i + 1]!]!;
      dst[p + 2 * plane] = lut[src[i + 2]!]!;
    }
  }
}

const PAD_VALUE = 114 / 255;

/**
 * How frames are resized into the model input, decided once at start-up:
 * - `bilinear`: OpenCV INTER_LINEAR sampling (what Ultralytics' LetterBox does), computed directly
 *   from the frame into the tensor. Cheapest, allocation-free.
 * - `area`: antialiased. A frame at least twice the model input is first shrunk by the largest
 *   whole factor k that keeps it no smaller than the input, each pixel the mean of a k x k block
 *   (box-shrink.ts), then sampled as `bilinear` samples, by the factor under 2 that is left. Every
 *   pixel of the frame counts, once: about 0.6 ms for a 1920x1080 frame in WebAssembly.
 * - `sharp`: libvips' antialiased linear reduction. Costs a copy of the frame into libvips: about
 *   7 ms per 1080p frame (docs/performance.md).
 * - `auto` (the agent's default): `bilinear` up to AUTO_AREA_FROM times smaller, `area` beyond,
 *   decided once per frame size. Two taps per axis read a fifth of a 1280x960 frame's columns on the
 *   way to a 256-wide input, so fine texture aliases: measured on the synthetic line, the model's
 *   uncertain-frame rate was 0.153 at 1280x960 against 0.124 at 320x240 (the sequential detector
 *   warned within six 600-frame windows); antialiased with sharp, 0.127 and 0.121.
 */
export const RESIZE_MODES = ['auto', 'bilinear', 'area', 'sharp'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];
/** `auto` resizes frames more than this many times larger than the model input with `area`. */
export const AUTO_AREA_FROM = 3;

/**
 * Where bilinear resampling runs: `wasm` (wasm-bilinear.ts, the same tensor bit for bit in about
 * half the CPU time), `js` (resampleBilinear), or `auto`: WebAssembly from the second frame of a
 * size on (kernel-engine.ts), decided once per size, where the engine has it.
 */
export type BilinearEngine = KernelEngine;

/**
 * One frame size's layout: its geometry, its taps (bilinear and area), its box shrink (area, frames
 * at least twice the input) and, from its second frame, its kernel instances.
 */
interface Layout {
  readonly lb: Letterbox;
  readonly taps: BilinearTaps | undefined;
  readonly shrink: BoxShrink | undefined;
  wasm: WasmBilinear | undefined;
  wasmShrink: WasmShrink | undefined;
  /** The shrunk image, where the shrink runs in JavaScript. */
  small: Uint8Array | undefined;
  /** Frames of this size that no kernel placed in a camera's memory took: for the bilinear step, and for the shrink. */
  frames: number;
  shrinkFrames: number;
}

/** The box shrink a w x h frame gets before the bilinear step: with `area`, when it is at least twice the input (BoxShrink.for). */
export function boxShrinkFor(resampler: Exclude<ResizeMode, 'auto'>, w: number, h: number, lb: Letterbox): BoxShrink | undefined {
  return resampler === 'area' ? BoxShrink.for(w, h, lb.newW, lb.newH) : undefined;
}

/** Frame sizes a Letterboxer keeps laid out; the least recently used goes beyond. */
const LAYOUTS_KEPT = 8;

/**
 * Letterboxes frames into one reused CHW float tensor. Each frame size is laid out once (geometry,
 * taps, kernel instance) and kept, so cameras of different sizes sharing a detector slot cost no
 * set-up per frame. The padding is written only when the size in the tensor changes; per frame only
 * the image region is written. With readInPlace, a frame a WebAssembly kernel resamples stays in
 * that kernel's own tensor instead (`input` says where the last frame is).
 */
export class Letterboxer {
  private readonly layouts = new Map<number, Layout>();
  private current: Layout | undefined;
  /** What resampled the last frame. */
  private by: 'wasm' | 'js' | 'sharp' | undefined;
  /** The layout whose padding the tensor holds (undefined: none, or not known). */
  private padded: Layout | undefined;
  /** Whether bilinear resampling may run in WebAssembly (decided at construction). */
  private readonly useWasm: boolean;
  private _dst: Float32Array;
  /** Where the last frame was written: `_dst`, or a WebAssembly kernel's own tensor (readInPlace). */
  private written: Float32Array;
  /** Whether a WebAssembly kernel's frames stay in its own tensor (readInPlace). */
  private inPlace = false;

  constructor(
    dst: Float32Array,
    readonly dstW: number,
    readonly dstH: number,
    readonly mode: ResizeMode = 'bilinear',
    readonly bilinearEngine: BilinearEngine = 'auto',
  ) {
    if (dst.length !== 3 * dstW * dstH) throw new RangeError(`tensor of ${dst.length} floats cannot hold 3x${dstH}x${dstW}`);
    if (bilinearEngine === 'wasm' && !(wasmBilinearAvailable() && wasmShrinkAvailable())) throw new Error('this JavaScript engine cannot compile WebAssembly');
    this.useWasm = bilinearEngine !== 'js' && wasmBilinearAvailable() && wasmShrinkAvailable();
    this._dst = dst;
    this.written = dst;
  }

  /** What resampled the last frame: `wasm` or `js` (bilinear), `sharp`, or undefined before the first. */
  get resampledBy(): 'wasm' | 'js' | 'sharp' | undefined {
    return this.by;
  }

  /** The tensor frames are written into (unless they stay in a kernel's own: readInPlace). */
  get dst(): Float32Array {
    return this._dst;
  }

  /**
   * The last frame's tensor: `dst`, or with readInPlace the tensor of the WebAssembly kernel that
   * resampled it, in that kernel's memory. Valid until the next frame this kernel resamples: for a
   * kernel placed in a camera's frame memory, that camera's next frame, whichever Letterboxer takes it.
   */
  get input(): Float32Array {
    return this.written;
  }

  /**
   * From now on a frame resampled by a WebAssembly kernel stays in the kernel's tensor (`input`)
   * instead of being copied into `dst`: 0.59 MB of copying a frame saved for the shipped model.
   * Only for a model run on this thread (a kernel's memory cannot be transferred), and only where
   * each frame's tensor is used up before its camera's next frame is letterboxed: the agent's bursts
   * (burst.ts) take each camera's frame at most once, and decode it before the next burst begins.
   */
  readInPlace(on: boolean): void {
    this.inPlace = on;
  }

  /**
   * Writes into `dst` from now on. `same`: it views the memory of the last one (a buffer lent to the
   * inference worker and given back), whose padding is still there; otherwise the padding is
   * written again with the next frame.
   */
  retarget(dst: Float32Array, same: boolean): void {
    if (dst.length !== 3 * this.dstW * this.dstH) throw new RangeError(`tensor of ${dst.length} floats cannot hold 3x${this.dstH}x${this.dstW}`);
    this._dst = dst;
    this.written = dst;
    if (!same) this.padded = undefined;
  }

  private layout(w: number, h: number): Layout {
    const c = this.current;
    if (c && c.lb.srcW === w && c.lb.srcH === h) return c;
    const key = w * 65536 + h;
    let l = this.layouts.get(key);
    if (l && (l.lb.srcW !== w || l.lb.srcH !== h)) l = undefined; // a key shared by two sizes (heights from 65536 on): laid out anew
    if (l) {
      this.layouts.delete(key); // re-inserted below: the map's order is least recently used first
    } else {
      const lb = letterboxGeometry(w, h, this.dstW, this.dstH);
      const by = this.resamplerFor(w, h, lb);
      const shrink = boxShrinkFor(by, w, h, lb);
      // After a shrink by k, the bilinear step samples where the frame's own samples would fall.
      const taps = by === 'sharp' ? undefined : shrink ? new BilinearTaps(shrink.outW, shrink.outH, lb.newW, lb.newH, w / (shrink.k * lb.newW), h / (shrink.k * lb.newH)) : new BilinearTaps(w, h, lb.newW, lb.newH);
      l = { lb, taps, shrink, wasm: undefined, wasmShrink: undefined, small: undefined, frames: 0, shrinkFrames: 0 };
      if (this.layouts.size >= LAYOUTS_KEPT) this.layouts.delete(this.layouts.keys().next().value!);
    }
    this.layouts.set(key, l);
    this.current = l;
    return l;
  }

  /** The resampler frames of this size get: `auto` decides by how far they are reduced. */
  resamplerFor(w: number, h: number, lb: Letterbox = letterboxGeometry(w, h, this.dstW, this.dstH)): Exclude<ResizeMode, 'auto'> {
    if (this.mode !== 'auto') return this.mode;
    return Math.max(w / lb.newW, h / lb.newH) > AUTO_AREA_FROM ? 'area' : 'bilinear';
  }

  async run(frame: RawFrame): Promise<Letterbox> {
    checkFrame(frame);
    const l = this.layout(frame.width, frame.height);
    const lb = l.lb;
    if (l.taps) {
      const pixels = l.shrink ? this.shrunk(l, frame.data) : frame.data;
      // A camera's frame in its frame memory (or the shrunk image, in its kernel's memory) is read
      // in place by the kernel placed there.
      const home = this.useWasm ? FrameMemory.of(pixels) : undefined;
      let k = home ? WasmBilinear.placed(home, l.taps, this.dstW, this.dstH, lb.left, lb.top, PAD_VALUE) : undefined;
      if (!k && !l.wasm && this.wasmFrom(++l.frames)) {
        l.wasm = new WasmBilinear(l.taps, this.dstW, this.dstH, lb.left, lb.top);
        l.wasm.background(PAD_VALUE);
      }
      k ??= l.wasm;
      if (k && this.inPlace) {
        this.written = k.resample(pixels); // its padding is there from its background
        this.by = 'wasm';
        return lb;
      }
      if (k) {
        k.run(pixels, this._dst); // the whole tensor, its padding included
        this.by = 'wasm';
      } else {
        this.pad(l);
        resampleBilinear(pixels, l.taps, this._dst, this.dstW, this.dstH, lb.left, lb.top);
        this.by = 'js';
      }
      this.padded = l;
      this.written = this._dst;
      return lb;
    }
    let pixels: Uint8Array = frame.data;
    if (lb.newW !== frame.width || lb.newH !== frame.height) {
      pixels = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
        .resize(lb.newW, lb.newH, { fit: 'fill', kernel: 'linear' })
        .raw()
        .toBuffer();
    }
    this.pad(l);
    hwcToChw(pixels, this._dst, lb.newW, lb.newH, this.dstW, this.dstH, lb.left, lb.top);
    this.padded = l;
    this.written = this._dst;
    this.by = 'sharp';
    return lb;
  }

  /**
   * Whether a step gets a kernel instance of its own (not placed in a camera's memory), at this count
   * of its frames of a size that no placed kernel took: from the second with `auto`.
   */
  private wasmFrom(frames: number): boolean {
    return this.useWasm && ownKernelDue(this.bilinearEngine, frames);
  }

  /**
   * The frame shrunk by its layout's box shrink: by the kernel placed in the camera's frame memory,
   * or one of its own (with room for the bilinear kernel that reads its output), or in JavaScript.
   */
  private shrunk(l: Layout, data: Uint8Array): Uint8Array {
    const s = l.shrink!;
    const home = this.useWasm ? FrameMemory.of(data) : undefined;
    let k = home ? WasmShrink.placed(home, s) : undefined;
    if (!k && !l.wasmShrink && this.wasmFrom(++l.shrinkFrames)) {
      l.wasmShrink = new WasmShrink(s, undefined, WasmBilinear.bytesFor(s.outW, s.outH, l.lb.newW, l.lb.newH, this.dstW, this.dstH, false));
    }
    k ??= l.wasmShrink;
    if (k) return k.run(data);
    l.small ??= new Uint8Array(s.outW * s.outH * 3);
    shrinkBox(data, s, l.small);
    return l.small;
  }

  /** The padding of layout `l` into the tensor, unless it holds it already. */
  private pad(l: Layout): void {
    if (this.padded !== l) this._dst.fill(PAD_VALUE);
  }
}

/** One-off letterbox of a raw frame into `dst` (length 3*dstW*dstH); returns the geometry. */
export async function letterboxInto(frame: RawFrame, dst: Float32Array, dstW: number, dstH: number, mode: ResizeMode = 'bilinear'): Promise<Letterbox> {
  return new Letterboxer(dst, dstW, dstH, mode).run(frame);
}

/** Decodes an encoded image (JPEG, PNG, WebP, TIFF…) to a raw RGB frame, honouring EXIF orientation. */
export async function decodeImage(input: string | Buffer, label = typeof input === 'string' ? input : '<buffer>'): Promise<RawFrame> {
  try {
    const { data, info } = await sharp(input, { failOn: 'error' })
      .autoOrient()
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height, channels: 3 };
  } catch (e) {
    const msg = (e as Error).message;
    if (/Input file is missing|ENOENT/.test(msg)) throw driftlineError('DRIFTLINE_ERR_IMAGE_NOT_FOUND', { file: label }, { cause: e });
    throw driftlineError('DRIFTLINE_ERR_IMAGE_DECODE', { file: label, reason: msg.split('\n')[0] }, { cause: e });
  }
}
