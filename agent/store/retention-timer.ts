/**
 * Retention while the agent runs: a timer that enforces the retention policy every interval, logs
 * what a pass deleted, and hands the pass to the storage watch, which decides between full and
 * recovered. A pass that fails for lack of space sheds through the watch like any write; another
 * failure is logged and tried again on the next tick. Kept out of the composition root, which only
 * wires; the timer is unref'd, so it never keeps the process alive on its own.
 */
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import type { Retention } from './retention.js';
import type { StorageWatch } from './storage-watch.js';

export interface RetentionTimerOptions {
  readonly retention: Pick<Retention, 'enforce'>;
  readonly storage: Pick<StorageWatch, 'afterPass' | 'writeFailed'>;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Logger;
  readonly intervalMs: number;
}

/** Starts the passes; returns what stops them. */
export function startRetentionTimer({ retention, storage, clock, log, intervalMs }: RetentionTimerOptions): () => void {
  const timer = setInterval(() => {
    try {
      const r = retention.enforce(clock.now());
      if (r.framesDeleted + r.windowsDeleted > 0) log.info(r, 'retention');
      storage.afterPass(r);
    } catch (e) {
      if (!storage.writeFailed(e)) log.warn({ err: (e as Error).message }, 'retention failed');
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
