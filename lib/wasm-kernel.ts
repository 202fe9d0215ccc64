/**
 * A WebAssembly kernel carried as base64 (scripts/build-wasm.ts writes those modules), compiled on
 * first use and kept for the process: every instance of a kernel shares one compiled module. An
 * engine that cannot compile it (no WebAssembly, or no SIMD) gets null, once, and its callers keep
 * their JavaScript loops.
 */
export function wasmKernel(base64: string): () => WebAssembly.Module | null {
  let compiled: WebAssembly.Module | null | undefined;
  return () => {
    if (compiled === undefined) {
      try {
        compiled = new WebAssembly.Module(Buffer.from(base64, 'base64'));
      } catch {
        compiled = null;
      }
    }
    return compiled;
  };
}
