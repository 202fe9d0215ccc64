/**
 * Runs ONNX Runtime in a worker thread. onnxruntime-node's async run() still executes on the
 * JavaScript thread (it only defers the native call with setImmediate), so in the main thread
 * inference blocks everything else: letterboxing the next frame, MQTT, health checks, watchdogs.
 * Here the session lives in its own thread. Each slot's tensors are shared memory: the main thread
 * letterboxes straight into the shared input; the worker copies it into its own tensor (the binding
 * refuses SharedArrayBuffer-backed tensors), runs, and copies the output back.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface WorkerInit {
  readonly type: 'init';
  readonly model: Uint8Array;
  readonly provider: string;
  readonly deviceId: number;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly inputName: string;
  readonly outputName: string;
  readonly inputDims: readonly number[];
  readonly outputDims: readonly number[];
  readonly slots: readonly { input: SharedArrayBuffer; output: SharedArrayBuffer }[];
}

export interface WorkerRun {
  readonly type: 'run';
  readonly id: number;
  readonly slot: number;
}

export type WorkerReply = { type: 'ready' } | { type: 'done'; id: number; ms: number } | { type: 'error'; id: number; message: string };

interface WorkerSlot {
  sharedIn: Float32Array;
  sharedOut: Float32Array;
  feeds: Record<string, ort.Tensor>;
  fetches: Record<string, ort.Tensor>;
  out: Float32Array;
  input: Float32Array;
}

if (parentPort) {
  const port = parentPort;
  let session: ort.InferenceSession | undefined;
  let slots: WorkerSlot[] = [];
  port.on('message', (msg: WorkerInit | WorkerRun) => {
    if (msg.type === 'init') {
      ort.env.logLevel = 'fatal';
      const ep = msg.provider === 'cpu' ? 'cpu' : ({ name: msg.provider, deviceId: msg.deviceId } as ort.InferenceSession.ExecutionProviderConfig);
      ort.InferenceSession.create(msg.model, {
        executionProviders: [ep],
        intraOpNumThreads: msg.intraOpThreads,
        interOpNumThreads: msg.interOpThreads,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        logSeverityLevel: 4,
      }).then(
        (s) => {
          session = s;
          const inSize = msg.inputDims.reduce((a, b) => a * b, 1);
          const outSize = msg.outputDims.reduce((a, b) => a * b, 1);
          slots = msg.slots.map((sl) => {
            const input = new Float32Array(inSize);
            const out = new Float32Array(outSize);
            return {
              sharedIn: new Float32Array(sl.input),
              sharedOut: new Float32Array(sl.output),
              input,
              out,
              feeds: { [msg.inputName]: new ort.Tensor('float32', input, msg.inputDims as number[]) },
              fetches: { [msg.outputName]: new ort.Tensor('float32', out, msg.outputDims as number[]) },
            };
          });
          port.postMessage({ type: 'ready' } satisfies WorkerReply);
        },
        (e: unknown) => port.postMessage({ type: 'error', id: -1, message: (e as Error).message } satisfies WorkerReply),
      );
      return;
    }
    const sl = slots[msg.slot];
    if (!session || !sl) {
      port.postMessage({ type: 'error', id: msg.id, message: 'worker not initialised' } satisfies WorkerReply);
      return;
    }
    const t = performance.now();
    sl.input.set(sl.sharedIn);
    session.run(sl.feeds, sl.fetches).then(
      () => {
        sl.sharedOut.set(sl.out);
        port.postMessage({ type: 'done', id: msg.id, ms: performance.now() - t } satisfies WorkerReply);
      },
      (e: unknown) => port.postMessage({ type: 'error', id: msg.id, message: (e as Error).message } satisfies WorkerReply),
    );
  });
}
