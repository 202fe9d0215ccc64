/**
 * SQLite's WAL checkpoints, moved off the event loop. A checkpoint copies the WAL's pages into the
 * database file and fsyncs both: about 4 MB and two fsyncs per 1,000 pages, which the connection
 * that commits runs itself by default (wal_autocheckpoint), inside the COMMIT that crosses the
 * threshold. At full ingest that wait was a quarter of the collector's time per summary
 * (docs/performance.md, "Collector ingest").
 *
 * A checkpoint is not part of a commit's durability: a committed transaction is in the WAL, and a
 * checkpoint that fails or never runs loses nothing (the next one, or the next open, does it). So a
 * second connection on a worker thread can run it, in PASSIVE mode, which never blocks the writer.
 * The store asks for one every few MB written; the writer's own autocheckpoint stays on at a
 * larger threshold as a safety net, and goes back to SQLite's default if the worker dies.
 *
 * The worker is plain JavaScript (eval): no loader, no build step, the same under tsx and compiled.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const closed = new Int32Array(workerData.closed);
let db;
try {
  db = new Database(workerData.file, { fileMustExist: true });
} catch (e) {
  parentPort.postMessage({ error: String((e && e.message) || e) });
}
parentPort.on('message', (m) => {
  if (m === 'close') {
    try { if (db) db.close(); } catch {}
    db = undefined;
    Atomics.store(closed, 0, 1);
    Atomics.notify(closed, 0);
    parentPort.close();
    return;
  }
  if (!db) return parentPort.postMessage({ error: 'no connection' });
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
});
`;

const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');

export class Checkpointer {
  private readonly worker: Worker;
  private readonly closed = new Int32Array(new SharedArrayBuffer(4));
  private busy = false;
  private ended = false;
  /** Checkpoints asked for and finished. */
  done = 0;
  /** Checkpoints that failed (a full disk): harmless, the next one tries again. */
  failures = 0;
  lastError: string | undefined;

  /** `onDead`: the worker is gone (it could not start, or exited); the writer checkpoints itself again. */
  constructor(file: string, onDead: (reason: string) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { file, driver: DRIVER, closed: this.closed.buffer } });
    this.worker.unref(); // an idle checkpointer never keeps the process alive
    this.worker.on('message', (r: { error?: string }) => {
      this.busy = false;
      if (r.error !== undefined) {
        this.failures++;
        this.lastError = r.error;
      } else this.done++;
    });
    const dead = (reason: string): void => {
      if (this.ended) return;
      this.ended = true;
      onDead(reason);
    };
    this.worker.on('error', (e) => dead(e.message));
    this.worker.on('exit', (code) => dead(`checkpoint worker exited with code ${code}`));
  }

  /** Asks for a checkpoint unless one is running; false when none was asked for. */
  request(): boolean {
    if (this.busy || this.ended) return false;
    this.busy = true;
    this.worker.postMessage('checkpoint');
    return true;
  }

  /**
   * Closes the worker's connection before the writer closes its own (the last connection to close
   * checkpoints and removes the WAL): waits for it, at most `waitMs` (a checkpoint may be running).
   */
  close(waitMs = 5000): void {
    if (this.ended) return;
    this.ended = true;
    this.worker.postMessage('close');
    Atomics.wait(this.closed, 0, 0, waitMs);
    void this.worker.terminate();
  }
}
