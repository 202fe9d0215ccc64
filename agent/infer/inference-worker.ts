/**
 * Runs ONNX Runtime in a worker thread. onnxruntime-node's async run() still executes on the
 * JavaScript thread (it only defers the native call with setImmediate), so in the main thread
 * inference blocks everything else: letterboxing the next frame, MQTT, health checks, watchdogs.
 * Here the session lives in its own thread. Each slot's tensors are shared memory: the main thread
 * letterboxes straight into the shared input; the worker copies it into its own tensor (the binding
 * refuses SharedArrayBuffer-backed tensors), runs, and copies the output back.
 *
 * A model's embedding output (embed0, detection-level OOD scoring) is copied back the same way, whole:
 * which anchors the main thread needs is known only after its NMS, and the copy (49 KB for the
 * shipped model) costs microseconds against the frame's milliseconds (docs/performance.md).
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
  /** The embedding output to fetch too, into each slot's `embed` buffer; absent: none. */
  readonly embedding?: { readonly name: string; readonly dims: readonly number[] };
  readonly slots: readonly { input: SharedArrayBuffer; output: SharedArrayBuffer; embed?: SharedArrayBuffer }[];
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
  sharedEmbed: Float32Array | undefined;
  embed: Float32Array | undefined;
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
          const e = msg.embedding;
          slots = msg.slots.map((sl) => {
            const input = new Float32Array(inSize);
            const out = new Float32Array(outSize);
            const embed = e && sl.embed ? new Float32Array(e.dims.reduce((a, b) => a * b, 1)) : undefined;
            const fetches: Record<string, ort.Tensor> = { [msg.outputName]: new ort.Tensor('float32', out, msg.outputDims as number[]) };
            if (e && embed) fetches[e.name] = new ort.Tensor('float32', embed, e.dims as number[]);
            return {
              sharedIn: new Float32Array(sl.input),
              sharedOut: new Float32Array(sl.output),
              input,
              out,
              sharedEmbed: sl.embed ? new Float32Array(sl.embed) : undefined,
              embed,
              feeds: { [msg.inputName]: new ort.Tensor('float32', input, msg.inputDims as number[]) },
              fetches,
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
        if (sl.embed) sl.sharedEmbed!.set(sl.embed);
        port.postMessage({ type: 'done', id: msg.id, ms: performance.now() - t } satisfies WorkerReply);
      },
      (e: unknown) => port.postMessage({ type: 'error', id: msg.id, message: (e as Error).message } satisfies WorkerReply),
    );
  });
}
