/**
 * TensorRT settings through the environment. onnxruntime-node appends the TensorRT provider with
 * the C API call that takes only a device id, so the provider gets no options object and reads its
 * settings from ORT_TENSORRT_* environment variables when the session is created. The agent sets
 * them from `model.tensorrt` first, in the process's real environment (the main thread's
 * process.env writes through to it; an inference worker's session reads the same), and only when
 * TensorRT is among the providers to try.
 *
 * The engine cache is what keeps a Jetson from spending minutes building an engine at every start.
 * Its folder is keyed by the model's sha256, so a new model never loads a stale engine.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface TensorrtOptions {
  /** Engine cache folder; '' = `tensorrt-cache/<sha256 prefix>` beside the store (the state directory). */
  readonly cacheDir: string;
  readonly fp16: boolean;
  /** TensorRT builder workspace, bytes. */
  readonly workspaceBytes: number;
}

/** The cache folder for a model: the configured one, or the state directory's, keyed by the model's sha256. */
export function tensorrtCacheDir(o: TensorrtOptions, storePath: string, sha256: string): string {
  return o.cacheDir ? join(o.cacheDir, sha256.slice(0, 16)) : join(dirname(storePath), 'tensorrt-cache', sha256.slice(0, 16));
}

/** The ORT_TENSORRT_* variables for these settings and cache folder. */
export function tensorrtEnvironment(o: TensorrtOptions, cacheDir: string): Record<string, string> {
  return {
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
    ORT_TENSORRT_CACHE_PATH: cacheDir,
    ORT_TENSORRT_FP16_ENABLE: o.fp16 ? '1' : '0',
    ORT_TENSORRT_MAX_WORKSPACE_SIZE: String(o.workspaceBytes),
  };
}

/** Creates the cache folder and writes the variables into `env` (the process's, by default); returns them. */
export function applyTensorrtEnvironment(o: TensorrtOptions, cacheDir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  mkdirSync(cacheDir, { recursive: true, mode: 0o750 });
  const vars = tensorrtEnvironment(o, cacheDir);
  Object.assign(env, vars);
  return vars;
}
