/**
 * What the agent does when a write to its store fails outside the retention timer: the failure goes
 * to the storage watch first (for lack of space it sheds, so that a retry may fit), then one warning
 * says what was kept. Telemetry rows that could not be flushed stay in the frame writer for its next
 * flush; a window that could not be written is retried once when the watch shed something, and its
 * summary is sent either way. Kept out of the composition root, which only wires.
 */
import type { Logger } from '../../lib/log.js';
import type { FrameWriter } from './frame-writer.js';
import type { StorageWatch } from './storage-watch.js';

export class StoreFailures {
  constructor(
    private readonly storage: Pick<StorageWatch, 'writeFailed'>,
    private readonly log: Logger,
  ) {}

  /** The frame writer's flush failed with `e`: its rows are kept, and the warning counts them. */
  flushFailed(e: Error, writer: Pick<FrameWriter, 'pending'>): void {
    this.storage.writeFailed(e);
    this.log.warn({ err: e.message, pending: writer.pending }, 'telemetry flush failed; rows kept for retry');
  }

  /** A window's row was not written (the pipeline's onStoreError): returns whether to try it once more. */
  windowFailed(e: unknown): boolean {
    const retry = this.storage.writeFailed(e);
    this.log.warn({ err: (e as Error).message, retry }, 'window not written to the store; its summary is still sent');
    return retry;
  }
}
