/**
 * The part of the WebAssembly JavaScript API that packed-quadform.ts uses. Node has it as a global;
 * @types/node 20 does not declare it, and the DOM library, which does, would declare far more.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, unknown>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}
