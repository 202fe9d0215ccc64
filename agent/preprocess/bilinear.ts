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
  const plane2 = plane * 2;
  const { x0, x1, fx, y0, y1, fy, outW, outH } = t;
  for (let oy = 0; oy < outH; oy++) {
    const r0 = y0[oy]!;
    const r1 = y1[oy]!;
    const wy = fy[oy]! * INV255;
    const wy0 = INV255 - wy;
    let d = (top + oy) * dstW + left;
    for (let ox = 0; ox < outW; ox++, d++) {
      const a = x0[ox]!;
      const b = x1[ox]!;
      const wx = fx[ox]!;
      const p00 = r0 + a;
      const p01 = r0 + b;
      const p10 = r1 + a;
      const p11 = r1 + b;
      // Channels unrolled; the 1/255 scale is folded into the vertical weights.
      let u = src[p00]!;
      let l = src[p10]!;
      dst[d] = (u + (src[p01]! - u) * wx) * wy0 + (l + (src[p11]! - l) * wx) * wy;
      u = src[p00 + 1]!;
      l = src[p10 + 1]!;
      dst[d + plane] = (u + (src[p01 + 1]! - u) * wx) * wy0 + (l + (src[p11 + 1]! - l) * wx) * wy;
      u = src[p00 + 2]!;
      l = src[p10 + 2]!;
      dst[d + plane2] = (u + (src[p01 + 2]! - u) * wx) * wy0 + (l + (src[p11 + 2]! - l) * wx) * wy;
    }
  }
}
