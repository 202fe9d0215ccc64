/**
 * Bilinear resampling straight from an RGB24 frame into CHW float planes, with the sampling of
 * OpenCV's INTER_LINEAR (half-pixel centres, two taps per axis, no antialiasing). That is what
 * Ultralytics' LetterBox uses, so models exported from it see the inputs they were validated on. It
 * reads only the source pixels it needs, so a 1080p frame costs a fraction of a millisecond, and it
 * allocates nothing per frame: the tap tables are built once per geometry.
 */

export class BilinearTaps {
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly fx: Float32Array;
  readonly y0: Int32Array;
  readonly y1: Int32Array;
  readonly fy: Float32Array;

  constructor(
    readonly srcW: number,
    readonly srcH: number,
    readonly outW: number,
    readonly outH: number,
  ) {
    [this.x0, this.x1, this.fx] = taps(srcW, outW, 3);
    [this.y0, this.y1, this.fy] = taps(srcH, outH, srcW * 3);
  }

  matches(srcW: number, srcH: number, outW: number, outH: number): boolean {
    return this.srcW === srcW && this.srcH === srcH && this.outW === outW && this.outH === outH;
  }
}

/** Source offsets (already multiplied by `stride`) and weights for each output coordinate. */
function taps(src: number, out: number, stride: number): [Int32Array, Int32Array, Float32Array] {
  const i0 = new Int32Array(out);
  const i1 = new Int32Array(out);
  const f = new Float32Array(out);
  const scale = src / out;
  for (let o = 0; o < out; o++) {
    let s = (o + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    let a = Math.floor(s);
    if (a > src - 1) a = src - 1;
    const b = Math.min(a + 1, src - 1);
    i0[o] = a * stride;
    i1[o] = b * stride;
    f[o] = s - a;
  }
  return [i0, i1, f];
}

const INV255 = 1 / 255;

/**
 * Resamples `src` (RGB24, taps.srcW x taps.srcH) to taps.outW x taps.outH and writes normalised CHW
 * floats into `dst` (planes of dstW x dstH) at (left, top). Pixels outside that rectangle are not
 * touched: the caller writes the padding once.
 */
export function resampleBilinear(src: Uint8Array, t: BilinearTaps, dst: Float32Array, dstW: number, dstH: number, left: number, top: number): void {
  const plane = dstW * dstH;
  const { x0, x1, fx, y0, y1, fy } = t;
  for (let oy = 0; oy < t.outH; oy++) {
    const r0 = y0[oy]!;
    const r1 = y1[oy]!;
    const wy = fy[oy]!;
    let d = (top + oy) * dstW + left;
    for (let ox = 0; ox < t.outW; ox++, d++) {
      const a = x0[ox]!;
      const b = x1[ox]!;
      const wx = fx[ox]!;
      const p00 = r0 + a;
      const p01 = r0 + b;
      const p10 = r1 + a;
      const p11 = r1 + b;
      for (let c = 0; c < 3; c++) {
        const top0 = src[p00 + c]! + (src[p01 + c]! - src[p00 + c]!) * wx;
        const bot0 = src[p10 + c]! + (src[p11 + c]! - src[p10 + c]!) * wx;
        dst[d + c * plane] = (top0 + (bot0 - top0) * wy) * INV255;
      }
    }
  }
}
