/**
 * Where a per-frame kernel runs (the letterbox's resampling, the input statistics' sampling pass):
 * `wasm`, `js`, or `auto`. With `auto` a kernel instance of its own is made from the second frame of
 * a size on: a camera's stream is worth one, a lone image of its own size (a test, a readiness
 * sample, a folder of odd sizes) is not. A camera's frame memory holds kernels placed there, which
 * need no instance of their own; this rule is for frames no placed kernel took.
 */
export type KernelEngine = 'auto' | 'wasm' | 'js';

/** Whether a kernel instance of its own is due, at this count of frames of one size (the current one included). */
export function ownKernelDue(engine: KernelEngine, frames: number): boolean {
  return frames >= (engine === 'wasm' ? 1 : 2);
}
