/**
 * Runs ONNX Runtime in a worker thread. onnxruntime-node's async run() still executes on the
 * JavaScript thread (it only defers the native call with setImmediate), so in the main thread
 * inference blocks everything else: letterboxing the next frame, MQTT, health checks, watchdogs.
 * Here the session lives in its own thread. Each run borrows its slot's buffers: the main thread
 * letterboxes into the slot's input, then transfers the input, output and (when fetched) embedding
 * buffers with the run request; the worker wraps them in tensors, runs into them, and transfers
 * them back with its reply. Nothing is copied either way: the binding refuses tensors on
 * SharedArrayBuffers, and copying the 590 KB input out of one (V8 copies shared memory with relaxed
 * atomics) and the outputs back took about 0.05 ms of the worker's time a frame, 15 ms for a 640x640
 * model (docs/performance.md).
 *
 * A model's embedding output (embed0, detection-level OOD scoring) comes back the same way, whole:
 * which anchors the main thread needs is known only after its NMS.
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
  /** The embedding output to fetch too, into each run's `embed` buffer; absent: none. */
  readonly embedding?: { readonly name: string; readonly dims: readonly number[] };
}

/** A slot's buffers, lent for one run: float32 input, output and (when fetched) embedding. */
export interface LentBuffers {
  readonly input: ArrayBuffer;
  readonly output: ArrayBuffer;
  readonly embed?: ArrayBuffer;
}

export interface WorkerRun {
  readonly type: 'run';
  readonly id: number;
  readonly buffers: LentBuffers;
}

/** Every reply to a run gives its buffers back, the failed ones too. */
export type WorkerReply = { type: 'ready' } | { type: 'done'; id: number; ms: number; buffers: LentBuffers } | { type: 'error'; id: number; message: string; buffers?: LentBuffers };

/** The buffers as a transfer list. */
export function transferList(b: LentBuffers): ArrayBuffer[] {
  return b.embed ? [b.input, b.output, b.embed] : [b.input, b.output];
}

if (parentPort) {
  const port = parentPort;
  let session: ort.InferenceSession | undefined;
  let init: WorkerInit | undefined;
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
          init = msg;
          port.postMessage({ type: 'ready' } satisfies WorkerReply);
        },
        (e: unknown) => port.postMessage({ type: 'error', id: -1, message: (e as Error).message } satisfies WorkerReply),
      );
      return;
    }
    const b = msg.buffers;
    if (!session || !init) {
      port.postMessage({ type: 'error', id: msg.id, message: 'worker not initialised', buffers: b } satisfies WorkerReply, transferList(b));
      return;
    }
    const t = performance.now();
    const i = init;
    const e = i.embedding;
    const feeds = { [i.inputName]: new ort.Tensor('float32', new Float32Array(b.input), i.inputDims as number[]) };
    const fetches: Record<string, ort.Tensor> = { [i.outputName]: new ort.Tensor('float32', new Float32Array(b.output), i.outputDims as number[]) };
    if (e && b.embed) fetches[e.name] = new ort.Tensor('float32', new Float32Array(b.embed), e.dims as number[]);
    session.run(feeds, fetches).then(
      () => port.postMessage({ type: 'done', id: msg.id, ms: performance.now() - t, buffers: b } satisfies WorkerReply, transferList(b)),
      (err: unknown) => port.postMessage({ type: 'error', id: msg.id, message: (err as Error).message, buffers: b } satisfies WorkerReply, transferList(b)),
    );
  });
}
