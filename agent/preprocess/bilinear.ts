/**
 * Bilinear resampling straight from an RGB24 frame into CHW float planes, with the sampling of
 * OpenCV's INTER_LINEAR (half-pixel centres, two taps per axis, no antialiasing). That is what
 * Ultralytics' LetterBox uses, so models exported from it see the inputs they were validated on. It
 * reads only the source rows it needs, and it allocates nothing per frame: the tap tables are built
 * once per geometry.
 *
 * The weights are in 256ths, as OpenCV's are in fixed point (2048ths there, with the result rounded
 * to a byte; here the sum is kept whole): the two rows are blended first, s0 * (256 - wy) + s1 * wy,
 * then the two columns, v0 * (256 - wx) + v1 * wx, an integer of at most 255 * 65536, divided once
 * by 255 * 65536 and rounded once to float32. Being integers until that last step, the WebAssembly
 * kernel (bilinear.wat, SIMD) gives the same tensor bit for bit (docs/performance.md).
 */

export class BilinearTaps {
  /** Per output column: the byte offsets within a row of its two taps (x 3), and the second one's weight in 256ths. */
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly wx: Int32Array;
  /** Per output row: the byte offsets of its two source rows, and the second one's weight in 256ths. */
  readonly y0: Int32Array;
  readonly y1: Int32Array;
  readonly wy: Int32Array;

  /**
   * `scaleX`, `scaleY`: source pixels per output pixel, by default srcW / outW and srcH / outH. A
   * box-shrunk image (box-shrink.ts) passes the frame's own ratio divided by the shrink factor, so
   * that its samples fall where the frame's would; a coordinate past the image's last pixel takes
   * that pixel.
   */
  constructor(
    readonly srcW: number,
    readonly srcH: number,
    readonly outW: number,
    readonly outH: number,
    readonly scaleX = srcW / outW,
    readonly scaleY = srcH / outH,
  ) {
    [this.x0, this.x1, this.wx] = taps(srcW, outW, 3, scaleX);
    [this.y0, this.y1, this.wy] = taps(srcH, outH, srcW * 3, scaleY);
  }

  matches(t: BilinearTaps): boolean {
    return this.srcW === t.srcW && this.srcH === t.srcH && this.outW === t.outW && this.outH === t.outH && this.scaleX === t.scaleX && this.scaleY === t.scaleY;
  }
}

/** Source offsets (already multiplied by `stride`) and the second tap's weight (0-256) for each output coordinate. */
function taps(src: number, out: number, stride: number, scale: number): [Int32Array, Int32Array, Int32Array] {
  const i0 = new Int32Array(out);
  const i1 = new Int32Array(out);
  const w = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    let s = (o + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    if (s > src - 1) s = src - 1; // past the last pixel (upscaling, or a shrunk image short of the frame's edge): that pixel
    const a = Math.floor(s);
    const b = Math.min(a + 1, src - 1);
    i0[o] = a * stride;
    i1[o] = b * stride;
    w[o] = Math.round((s - a) * 256);
  }
  return [i0, i1, w];
}

/** The blended sum of a full-scale pixel: 255 * 256 * 256. */
export const BILINEAR_FULL = 255 * 65536;

/**
 * Resamples `src` (RGB24, taps.srcW x taps.srcH) to taps.outW x taps.outH and writes normalised CHW
 * floats into `dst` (planes of dstW x dstH) at (left, top). Pixels outside that rectangle are not
 * touched: the caller writes the padding once.
 */
export function resampleBilinear(src: Uint8Array, t: BilinearTaps, dst: Float32Array, dstW: number, dstH: number, left: number, top: number): void {
  const plane = dstW * dstH;
  const { x0, x1, wx, y0, y1, wy, outW, outH } = t;
  for (let oy = 0; oy < outH; oy++) {
    const r0 = y0[oy]!;
    const r1 = y1[oy]!;
    const b1 = wy[oy]!;
    const b0 = 256 - b1;
    let d = (top + oy) * dstW + left;
    for (let ox = 0; ox < outW; ox++, d++) {
      const p = x0[ox]!;
      const q = x1[ox]!;
      const a1 = wx[ox]!;
      const a0 = 256 - a1;
      for (let c = 0, o = d; c < 3; c++, o += plane) {
        const v0 = src[r0 + p + c]! * b0 + src[r1 + p + c]! * b1;
        const v1 = src[r0 + q + c]! * b0 + src[r1 + q + c]! * b1;
        // Exact until this division; the store rounds it once to float32, as the kernel's f32.div does.
        dst[o] = (v0 * a0 + v1 * a1) / BILINEAR_FULL;
      }
    }
  }
}
