/**
 * Disk full is a normal event on an edge box: a small SD card, a log that grew, a review folder on
 * the same partition. This watch turns it into a state the agent can act on and report:
 *
 * - a write that fails for lack of space (SQLite's SQLITE_FULL, or ENOSPC) sheds at once: review
 *   frames first (the largest files the agent writes), then retention under pressure, so that the
 *   write can be tried again;
 * - after every retention pass it compares the filesystem's free space with `minFreeBytes`.
 *
 * A disk filled to the last byte leaves SQLite no room for the journal pages that a DELETE needs,
 * so shedding itself would fail. The watch therefore keeps a reserve file beside the database
 * (`reserve`, a few MiB, made at start when there is room): the first write that fails for lack of
 * space deletes it, and the shedding has room to run. It is made again once the disk has recovered.
 *
 * It reports each change of state once: full (with what was shed and the error) and recovered (free
 * space back above twice the floor, and no write failed since the last pass). Each report is made
 * once into a sender; a sender that the outbox could not fully take (the disk was too full even for
 * that) is called again on the next pass, and remembers what it already sent.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import type { Clock } from '../../lib/clock.js';
import { PRIVATE_FILE } from '../../lib/private-files.js';
import type { Retention, RetentionResult } from './retention.js';

export interface StorageFull {
  readonly freeBytes: number;
  readonly minFreeBytes: number;
  readonly framesShed: number;
  readonly windowsShed: number;
  readonly error: string;
}

export interface StorageRecovered {
  readonly freeBytes: number;
  readonly fullForSeconds: number;
}

export interface StorageWatchOptions {
  readonly minFreeBytes: number;
  readonly clock: Clock;
  /**
   * Makes the report's sender, once per report: it returns false while something could not be
   * queued, and is called again on later passes until it returns true.
   */
  readonly onFull: (r: StorageFull) => () => boolean;
  readonly onRecovered: (r: StorageRecovered) => () => boolean;
  /** A file of `bytes` kept beside the database and given up when the disk is full (see above). */
  readonly reserve?: { readonly path: string; readonly bytes: number };
}

/** True for an error that means the disk (or the database's size limit) is full. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'SQLITE_IOERR_WRITE') return true;
  return /database or disk is full|no space left on device/i.test((e as Error | undefined)?.message ?? '');
}

export class StorageWatch {
  /** Since when (monotonic ms) the store has been full; undefined while it is not. */
  private fullSince: number | undefined;
  private failedSincePass = false;
  private readonly unsent: (() => boolean)[] = [];
  /** Frees space outside the database first (review frames); returns the bytes freed. */
  private shedFiles: (() => number) | undefined;
  /** Writes that failed for lack of space, and retention passes run under pressure. */
  failures = 0;

  constructor(
    private readonly retention: Retention,
    private readonly o: StorageWatchOptions,
  ) {
    this.makeReserve();
  }

  /** Whether the reserve file is in place. */
  reserved = false;

  /** Writes the reserve file; on a disk without room for it, leaves none (made again later). */
  private makeReserve(): void {
    const r = this.o.reserve;
    if (!r || r.bytes <= 0 || this.reserved) return;
    let fd: number | undefined;
    try {
      fd = openSync(r.path, 'w', PRIVATE_FILE);
      const chunk = Buffer.alloc(Math.min(r.bytes, 1 << 20));
      for (let left = r.bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
      this.reserved = true;
    } catch {
      rmSync(r.path, { force: true });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private releaseReserve(): boolean {
    if (!this.reserved || !this.o.reserve) return false;
    rmSync(this.o.reserve.path, { force: true });
    this.reserved = false;
    return true;
  }

  /**
   * Names what frees space outside the database (review frames), shed first when the disk is full;
   * given once it exists, since it is built after the watch (the review sampler asks the watch
   * whether the store is full before it saves a frame).
   */
  shedFilesWith(shed: () => number): void {
    this.shedFiles = shed;
  }

  get full(): boolean {
    return this.fullSince !== undefined;
  }

  /**
   * A write failed. Returns true when it was for lack of space and retention shed something, so
   * that trying the write once more is worthwhile; false for any other error.
   */
  writeFailed(e: unknown): boolean {
    if (!isDiskFull(e)) return false;
    this.failures++;
    this.failedSincePass = true;
    let r: RetentionResult | undefined;
    let files = 0;
    try {
      files = this.shedFiles?.() ?? 0;
    } catch {
      // Nothing freed there: the database's own shedding below still runs.
    }
    if (this.releaseReserve()) files += this.o.reserve!.bytes;
    try {
      r = this.retention.enforce(this.o.clock.now(), { pressure: true });
    } catch {
      // Retention itself could not write: the next pass tries again.
    }
    this.enterFull(r, (e as Error).message);
    return files > 0 || (r !== undefined && (r.framesDeleted + r.windowsDeleted > 0 || r.bytesAfter < r.bytesBefore));
  }

  /** After each retention pass: the free space decides between full and recovered. */
  afterPass(r: RetentionResult): void {
    const failed = this.failedSincePass;
    this.failedSincePass = false;
    if (r.freeBytes < this.o.minFreeBytes) {
      this.enterFull(r, `free space ${r.freeBytes} bytes is under store.minFreeBytes (${this.o.minFreeBytes})`);
      try {
        this.shedFiles?.();
      } catch {
        // Tried again on the next pass.
      }
    }
    // Recovered only with room to spare (twice the floor): shedding leaves a little over the floor,
    // and a disk that is still full would otherwise flap between the two reports.
    else if (this.fullSince !== undefined && !failed && r.freeBytes >= 2 * this.o.minFreeBytes + (this.o.reserve?.bytes ?? 0)) {
      const fullForSeconds = Math.round((this.o.clock.monotonic() - this.fullSince) / 1000);
      this.fullSince = undefined;
      this.offer(this.o.onRecovered({ freeBytes: r.freeBytes, fullForSeconds }));
    }
    if (!this.full && r.freeBytes >= this.o.minFreeBytes + (this.o.reserve?.bytes ?? 0)) this.makeReserve();
    while (this.unsent.length > 0 && this.unsent[0]!()) this.unsent.shift();
  }

  private enterFull(r: RetentionResult | undefined, error: string): void {
    if (this.fullSince !== undefined) return;
    this.fullSince = this.o.clock.monotonic();
    const report: StorageFull = {
      freeBytes: r?.freeBytes ?? 0,
      minFreeBytes: this.o.minFreeBytes,
      framesShed: r?.framesDeleted ?? 0,
      windowsShed: r?.windowsDeleted ?? 0,
      error: error.slice(0, 300),
    };
    this.offer(this.o.onFull(report));
  }

  /** Sends now, or keeps it for the next pass, behind any report still unsent: they go in order. */
  private offer(send: () => boolean): void {
    if (this.unsent.length > 0 || !send()) this.unsent.push(send);
  }
}
