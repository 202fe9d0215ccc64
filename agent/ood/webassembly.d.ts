/**
 * The part of the WebAssembly JavaScript API that the kernels use (packed-quadform.ts,
 * wasm-bilinear.ts, wasm-shrink.ts, wasm-frame-stats.ts, frame-memory.ts, lib/wasm-kernel.ts). Node has it as a global;
 * @types/node 20 does not declare it, and the DOM library, which does, would declare far more.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, unknown>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}
