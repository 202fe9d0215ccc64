/**
 * Batched per-frame telemetry writes. The pipeline calls add() per frame, which copies the numbers
 * into a preallocated ring (no allocation, no I/O); a timer flushes the ring to SQLite in one
 * transaction every `flushMs`. When the database cannot take a batch (disk full, locked), the rows
 * stay in the ring and are retried; only when the ring is full are new rows dropped, and counted.
 * The pipeline is never blocked by storage.
 *
 * The frames table has a column per shipped feature (its migrations add them); an input statistic
 * added at start-up (protocol/features.ts) reaches the windows and drift, not this table.
 */
import type { FrameRecord } from '../telemetry/frame-record.js';
import { SHIPPED_INPUT_FEATURES } from '../../protocol/features.js';
import { DETECTION_FEATURES } from '../telemetry/detection-stats.js';
import type { Db } from './database.js';

const HEAD = 3; // camera_id, ts, frame
const TIMES = 3; // preprocess, inference, postprocess ms
const INPUT_COLUMNS = SHIPPED_INPUT_FEATURES.length; // the shipped input statistics lead FrameRecord.frameStats
export const FRAME_COLUMNS = HEAD + INPUT_COLUMNS + DETECTION_FEATURES.length + TIMES;

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
/** Column names in ring order: later migrations append columns, so inserts name them. */
export const FRAME_COLUMN_NAMES: readonly string[] = [
  'camera_id',
  'ts',
  'frame',
  ...[...SHIPPED_INPUT_FEATURES.map((d) => d.name), ...DETECTION_FEATURES].map(snake),
  'preprocess_ms',
  'inference_ms',
  'postprocess_ms',
];

export interface FrameWriterOptions {
  /** Flush interval in ms (default 500). */
  readonly flushMs?: number;
  /** Rows the ring holds before new rows are dropped (default 20,000). */
  readonly capacity?: number;
  /** Called after each flush attempt. */
  readonly onFlush?: (rows: number, error?: Error) => void;
}

export class FrameWriter {
  private readonly ring: Float64Array;
  private readonly capacity: number;
  private head = 0;
  private size = 0;
  private readonly args: number[] = new Array<number>(FRAME_COLUMNS).fill(0);
  private readonly insert: ReturnType<Db['prepare']>;
  private readonly flushBatch: (n: number) => void;
  private timer: NodeJS.Timeout | undefined;
  /** Rows written, rows dropped because the ring was full, and failed flushes. */
  written = 0;
  dropped = 0;
  flushErrors = 0;

  constructor(
    private readonly db: Db,
    private readonly o: FrameWriterOptions = {},
  ) {
    this.capacity = o.capacity ?? 20_000;
    this.ring = new Float64Array(this.capacity * FRAME_COLUMNS);
    const cols = FRAME_COLUMNS;
    this.insert = db.prepare(`INSERT INTO frames (${FRAME_COLUMN_NAMES.join(', ')}) VALUES (${new Array(cols).fill('?').join(', ')})`);
    this.flushBatch = db.transaction((n: number) => {
      let idx = (this.head - this.size + this.capacity) % this.capacity;
      for (let r = 0; r < n; r++) {
        const base = idx * cols;
        for (let c = 0; c < cols; c++) this.args[c] = this.ring[base + c]!;
        this.insert.run(this.args);
        idx = (idx + 1) % this.capacity;
      }
    });
    this.timer = setInterval(() => this.flush(), o.flushMs ?? 500);
    this.timer.unref();
  }

  /** Rows waiting in the ring. */
  get pending(): number {
    return this.size;
  }

  /** Copies the record's row into the ring; false (and counted) when the ring is full. */
  add(cameraId: number, rec: Readonly<FrameRecord>): boolean {
    if (this.size >= this.capacity) {
      this.dropped++;
      return false;
    }
    let p = this.head * FRAME_COLUMNS;
    const r = this.ring;
    r[p++] = cameraId;
    r[p++] = rec.ts;
    r[p++] = rec.index;
    for (let i = 0; i < INPUT_COLUMNS; i++) r[p++] = rec.frameStats[i]!;
    for (let i = 0; i < DETECTION_FEATURES.length; i++) r[p++] = rec.detStats[i]!;
    for (let i = 0; i < TIMES; i++) r[p++] = rec.stageMs[i]!;
    this.head = (this.head + 1) % this.capacity;
    this.size++;
    return true;
  }

  /** Writes every pending row in one transaction. Returns the rows written (0 on failure). */
  flush(): number {
    const n = this.size;
    if (n === 0) return 0;
    try {
      this.flushBatch(n);
    } catch (e) {
      this.flushErrors++;
      this.o.onFlush?.(0, e as Error);
      return 0;
    }
    this.size -= n;
    this.written += n;
    this.o.onFlush?.(n);
    return n;
  }

  /** Final flush and stop the timer; the database stays open for the caller to close. */
  close(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.flush();
  }
}
