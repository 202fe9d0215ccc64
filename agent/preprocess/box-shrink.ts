/**
 * The first half of the `area` letterbox: a frame shrunk by a whole factor k, each output pixel the
 * rounded mean of a k x k block of the frame. Bilinear sampling (bilinear.ts) then takes the
 * shrunk image the rest of the way, by a factor under 2, where its two taps no longer alias. That
 * is how libvips reduces too (a box shrink, then a short filter), and it reads every pixel of the
 * frame once, with whole-number sums: a 1920x1080 frame costs a fraction of what copying it into
 * libvips did (docs/performance.md).
 *
 * The mean is floor((sum + k*k/2) / (k*k)), in integers. The WebAssembly kernel (shrink.wat) divides
 * by multiplying with a float32 reciprocal, chosen here for each k and checked against every sum a
 * block can have, so that the two give the same bytes (test/agent/preprocess/box-shrink.test.ts).
 */

/**
 * The largest factor: 15 takes a 3840x2160 frame into a 256-wide input; a larger frame keeps 16, and
 * bilinear then reduces by more than 2 (it aliases a little again, beyond 32 times the input). The
 * kernel would allow far more: its 16-bit column sums hold k rows up to 128.
 */
export const MAX_SHRINK = 16;

/** Per factor k (2..MAX_SHRINK), the float32 reciprocal that gives floor(x / (k*k)) as trunc(x * r) for every x a rounded block sum can be. */
const RECIPROCALS: readonly number[] = (() => {
  const out: number[] = [0, 0];
  const f32 = new Float32Array(1);
  const i32 = new Int32Array(f32.buffer);
  for (let k = 2; k <= MAX_SHRINK; k++) {
    const kk = k * k;
    f32[0] = 1 / kk;
    const last = 255 * kk + (kk >> 1);
    for (let tries = 0; ; tries++) {
      const r = f32[0]!;
      let exact = true;
      for (let x = 0; x <= last && exact; x++) exact = Math.trunc(Math.fround(x * r)) === Math.floor(x / kk);
      if (exact) break;
      if (tries > 64) throw new Error(`no float32 reciprocal divides exactly by ${kk}`);
      i32[0]!++; // the next float32 up
    }
    out.push(f32[0]!);
  }
  return out;
})();

export class BoxShrink {
  /** The shrunk image's size: whole blocks only (the frame's last k - 1 columns or rows at most are left out). */
  readonly outW: number;
  readonly outH: number;
  /** k * k / 2, added before the division: the mean rounded half up. */
  readonly half: number;
  /** The float32 reciprocal of k * k that the kernel divides with (see RECIPROCALS). */
  readonly reciprocal: number;

  constructor(
    readonly srcW: number,
    readonly srcH: number,
    readonly k: number,
  ) {
    if (!Number.isInteger(k) || k < 2 || k > MAX_SHRINK) throw new RangeError(`a shrink factor of ${k}: expected a whole number from 2 to ${MAX_SHRINK}`);
    if (srcW < k || srcH < k) throw new RangeError(`a ${srcW}x${srcH} frame has no whole ${k}x${k} block`);
    this.outW = Math.floor(srcW / k);
    this.outH = Math.floor(srcH / k);
    this.half = (k * k) >> 1;
    this.reciprocal = RECIPROCALS[k]!;
  }

  /**
   * The shrink for a srcW x srcH frame on its way to newW x newH, or undefined when it is reduced by
   * less than 2 (bilinear alone then): the largest whole factor that leaves bilinear a factor of at
   * least 1 on both axes, at most MAX_SHRINK.
   */
  static for(srcW: number, srcH: number, newW: number, newH: number): BoxShrink | undefined {
    const k = Math.min(MAX_SHRINK, Math.floor(Math.min(srcW / newW, srcH / newH)));
    return k >= 2 ? new BoxShrink(srcW, srcH, k) : undefined;
  }

  matches(srcW: number, srcH: number, k: number): boolean {
    return this.srcW === srcW && this.srcH === srcH && this.k === k;
  }
}

/** Shrinks `src` (RGB24, s.srcW x s.srcH) into `dst` (RGB24, s.outW x s.outH). Allocates nothing. */
export function shrinkBox(src: Uint8Array, s: BoxShrink, dst: Uint8Array): void {
  const { k, outW, outH, half } = s;
  const kk = k * k;
  const rowBytes = s.srcW * 3;
  let d = 0;
  for (let oy = 0; oy < outH; oy++) {
    const top = oy * k * rowBytes;
    for (let ox = 0; ox < outW; ox++) {
      let r = half;
      let g = half;
      let b = half;
      for (let y = 0, row = top + ox * k * 3; y < k; y++, row += rowBytes) {
        for (let x = 0, i = row; x < k; x++, i += 3) {
          r += src[i]!;
          g += src[i + 1]!;
          b += src[i + 2]!;
        }
      }
      dst[d++] = Math.floor(r / kk);
      dst[d++] = Math.floor(g / kk);
      dst[d++] = Math.floor(b / kk);
    }
  }
}
