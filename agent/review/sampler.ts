/**
 * Frames for human review: the cases the model finds hard (an uncertain detection) or that lie
 * outside what it was profiled on (input outside the reference support, or a detection whose
 * detection-level OOD score is over the reference's threshold: `oodDetection`). Each is saved as a JPEG of
 * the model's own input (the letterboxed frame, as the model saw it), indexed in SQLite with its
 * detections (in the JPEG's pixels) and its statistics, ready to be exported for labelling.
 *
 * Saving is bounded twice: a budget of frames per camera per hour (a token bucket, so a burst of
 * hard frames is sampled rather than flooding the disk) and a disk cap, beyond which the oldest
 * samples are deleted. The decision is made per frame without allocating; only a frame that is
 * taken costs a pixel copy, and encoding and writing happen off the frame loop.
 */
import { unlinkSync } from 'node:fs';
import { PRIVATE_FILE, privateDir } from '../../lib/private-files.js';
import { rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Db } from '../store/database.js';

export interface ReviewOptions {
  readonly dir: string;
  readonly maxPerHour: number;
  readonly maxBytes: number;
  readonly jpegQuality?: number;
  /** Clock in ms (tests pass their own). */
  readonly now?: () => number;
  /** False while no frame may be saved (the disk is full); default always true. */
  readonly allowed?: () => boolean;
}

/** Why a frame was kept: each reason that applies, in this order, joined by '+'. */
export type ReviewReason =
  | 'uncertain'
  | 'ood'
  | 'oodDetection'
  | 'uncertain+ood'
  | 'uncertain+oodDetection'
  | 'ood+oodDetection'
  | 'uncertain+ood+oodDetection';

const REASONS: readonly (ReviewReason | undefined)[] = [undefined, 'uncertain', 'ood', 'uncertain+ood', 'oodDetection', 'uncertain+oodDetection', 'ood+oodDetection', 'uncertain+ood+oodDetection'];

/**
 * The reason a frame is kept for review, or undefined when none applies: an uncertain detection,
 * an input outside the reference support (`ood`), a detection out of distribution (`oodDetection`).
 */
export function reviewReason(uncertain: boolean, ood: boolean, oodDetection: boolean): ReviewReason | undefined {
  return REASONS[(uncertain ? 1 : 0) + (ood ? 2 : 0) + (oodDetection ? 4 : 0)];
}

export interface ReviewFrame {
  readonly cameraId: number;
  readonly cameraName: string;
  readonly ts: number;
  readonly frame: number;
  readonly reason: ReviewReason;
  /** The model input: CHW float32 RGB in [0, 1], width x height. */
  readonly input: Float32Array;
  readonly width: number;
  readonly height: number;
  /** Detections in the input's pixels; with their OOD score and verdict where detections are scored. */
  readonly detections: readonly { class: string; score: number; box: [number, number, number, number]; oodScore?: number; oodDetection?: boolean }[];
  readonly stats: Record<string, number>;
}

const HOUR = 3_600_000;

/** The default review folder: `<database file>.review` beside the database. */
export function reviewDirFor(storePath: string): string {
  return join(dirname(storePath), `${basename(storePath)}.review`);
}

export class ReviewSampler {
  private readonly tokens = new Map<number, { tokens: number; at: number }>();
  private readonly insert: ReturnType<Db['prepare']>;
  private readonly totalBytes: ReturnType<Db['prepare']>;
  private readonly oldest: ReturnType<Db['prepare']>;
  private readonly remove: ReturnType<Db['prepare']>;
  private readonly now: () => number;
  private pending = Promise.resolve();
  /** Frames saved, skipped for the hourly budget, deleted for the disk cap, and failed writes. */
  saved = 0;
  overBudget = 0;
  evicted = 0;
  failed = 0;
  /** Frames not taken because saving was paused (the disk is full). */
  paused = 0;

  constructor(
    private readonly db: Db,
    readonly o: ReviewOptions,
  ) {
    privateDir(o.dir);
    this.now = o.now ?? Date.now;
    this.insert = db.prepare(
      'INSERT INTO review_samples (camera_id, ts, frame, reason, file, width, height, bytes, detections, stats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.totalBytes = db.prepare('SELECT COALESCE(SUM(bytes), 0) AS b FROM review_samples');
    this.oldest = db.prepare('SELECT id, file, bytes FROM review_samples ORDER BY ts, id LIMIT 16');
    this.remove = db.prepare('DELETE FROM review_samples WHERE id = ?');
  }

  /** Whether a frame of this camera may be taken now; spends a token when it may. */
  take(cameraId: number): boolean {
    const rate = this.o.maxPerHour;
    if (rate <= 0) return false;
    if (this.o.allowed && !this.o.allowed()) {
      this.paused++;
      return false;
    }
    const now = this.now();
    let b = this.tokens.get(cameraId);
    if (!b) {
      b = { tokens: rate, at: now };
      this.tokens.set(cameraId, b);
    }
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / HOUR) * rate);
    b.at = now;
    if (b.tokens < 1) {
      this.overBudget++;
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  /** Saves a frame that take() allowed. The input is copied before this returns. */
  save(f: ReviewFrame): void {
    const { width: w, height: h } = f;
    const plane = w * h;
    const rgb = Buffer.allocUnsafe(plane * 3);
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      rgb[j] = f.input[i]! * 255 + 0.5;
      rgb[j + 1] = f.input[plane + i]! * 255 + 0.5;
      rgb[j + 2] = f.input[2 * plane + i]! * 255 + 0.5;
    }
    const safe = f.cameraName.replace(/[^A-Za-z0-9_.-]/g, '_');
    const file = `${safe}-${f.ts}-${f.frame}.jpg`;
    this.pending = this.pending.then(async () => {
      try {
        const jpeg = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
          .jpeg({ quality: this.o.jpegQuality ?? 90 })
          .toBuffer();
        await writeFile(join(this.o.dir, file), jpeg, { mode: PRIVATE_FILE });
        this.insert.run([f.cameraId, f.ts, f.frame, f.reason, file, w, h, jpeg.length, JSON.stringify(f.detections), JSON.stringify(f.stats)]);
        this.saved++;
      } catch {
        this.failed++;
        // A disk that filled mid-write leaves a truncated file: it goes, as its row never came.
        await rm(join(this.o.dir, file), { force: true }).catch(() => undefined);
        return;
      }
      try {
        this.enforceCap();
      } catch {
        // The cap is enforced again after the next save.
      }
    });
  }

  /**
   * Deletes the oldest samples (files and rows) down to `share` of what they take now: the disk is
   * full, and review frames are the largest thing the agent writes. Returns the bytes freed.
   */
  shed(share = 0.5): number {
    const before = (this.totalBytes.get([]) as { b: number }).b;
    this.enforceCap(Math.floor(before * share));
    return before - (this.totalBytes.get([]) as { b: number }).b;
  }

  /** Deletes the oldest samples (files and rows) until the total is under the disk cap. */
  private enforceCap(cap = this.o.maxBytes): void {
    let total = (this.totalBytes.get([]) as { b: number }).b;
    while (total > cap) {
      const rows = this.oldest.all([]) as { id: number; file: string; bytes: number }[];
      if (rows.length === 0) break;
      for (const r of rows) {
        if (total <= cap) break;
        try {
          unlinkSync(join(this.o.dir, r.file));
        } catch {
          // Already gone: the row goes anyway.
        }
        this.remove.run([r.id]);
        total -= r.bytes;
        this.evicted++;
      }
    }
  }

  /** Resolves when every frame handed to save() has been written (or has failed). */
  flush(): Promise<void> {
    return this.pending;
  }
}
