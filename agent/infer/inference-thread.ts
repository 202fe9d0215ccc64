/**
 * The main-thread side of the inference worker: starts it on the provider the main thread already
 * proved, and turns run requests into promises. Each run lends the worker a slot's buffers
 * (transferred, not copied) and resolves with them back. See inference-worker.ts for why it exists.
 */
import { Worker } from 'node:worker_threads';
import type { LoadedModel } from './model.js';
import type { LentBuffers, WorkerInit, WorkerReply } from './inference-worker.js';

export type { LentBuffers } from './inference-worker.js';

/** A run's outcome: the worker's time for it and the buffers it was lent. */
export interface RunResult {
  readonly ms: number;
  readonly buffers: LentBuffers;
}

/** A failed run, with the buffers back when the worker could return them (not when it died). */
export class InferenceRunError extends Error {
  constructor(
    message: string,
    readonly buffers: LentBuffers | undefined,
  ) {
    super(message);
  }
}

const transferList = (b: LentBuffers): ArrayBuffer[] => (b.embed ? [b.input, b.output, b.embed] : [b.input, b.output]);

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './inference-worker-tsx.mjs' : './inference-worker.js', import.meta.url);

export class InferenceThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: RunResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'ready') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      // An idle worker must not keep the process alive; a busy one must.
      if (this.pending.size === 0) worker.unref();
      if (m.type === 'done') p.resolve({ ms: m.ms, buffers: m.buffers });
      else p.reject(new InferenceRunError(`inference failed: ${m.message}`, m.buffers));
    });
    const fail = (e: Error): void => {
      this.failed = e;
      for (const p of this.pending.values()) p.reject(new InferenceRunError(e.message, undefined));
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inference worker exited with code ${code}`)));
  }

  /** Starts a worker with its own session of `model`; `embedding`: runs fetch the embedding output too. */
  static async start(model: LoadedModel, bytes: Uint8Array, embedding: boolean, tuning: { intraOpThreads: number; interOpThreads: number; deviceId: number }): Promise<InferenceThread> {
    const worker = new Worker(WORKER_URL);
    const init: WorkerInit = {
      type: 'init',
      model: bytes,
      provider: model.provider,
      deviceId: tuning.deviceId,
      intraOpThreads: tuning.intraOpThreads,
      interOpThreads: tuning.interOpThreads,
      inputName: model.inputName,
      outputName: model.outputName,
      inputDims: [1, 3, model.inputH, model.inputW],
      outputDims: model.outputDims,
      ...(model.embedding && embedding ? { embedding: { name: model.embedding.output, dims: [1, model.embedding.dim, model.embedding.anchors] } } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: WorkerReply): void => {
        worker.off('error', reject);
        if (m.type === 'ready') resolve();
        else reject(new Error(m.type === 'error' ? `inference worker could not start: ${m.message}` : 'unexpected reply'));
      };
      worker.once('message', onMsg);
      worker.once('error', reject);
      worker.postMessage(init);
    });
    const t = new InferenceThread(worker);
    worker.unref();
    return t;
  }

  /** Why the worker stopped (it crashed or exited), or undefined while it runs. */
  get failure(): Error | undefined {
    return this.failed;
  }

  /**
   * Runs the model on `buffers.input` into `buffers.output` (and `embed`). They are transferred:
   * unusable here until the promise settles with them (a rejection carries them too, unless the
   * worker died).
   */
  run(buffers: LentBuffers): Promise<RunResult> {
    if (this.failed) return Promise.reject(new InferenceRunError(this.failed.message, buffers));
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, buffers }, transferList(buffers));
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
