/**
 * What the collector keeps, behind one small interface so another database can replace SQLite
 * without touching ingest, rules or the API.
 */
import type { AlertMessage, EventMessage, StatusMessage, SummaryMessage } from '../../protocol/messages.js';

export interface AlertRecord extends AlertMessage {
  /** Groups one condition's firings: rule + site/device/camera. */
  readonly fingerprint: string;
  updatedAt: string;
  ack?: { by: string; comment: string; at: string };
}

export interface DeviceRow {
  site: string;
  device: string;
  state: 'online' | 'offline';
  lastSeen: number;
  status: StatusMessage;
}

export interface CameraRow {
  site: string;
  device: string;
  camera: string;
  lastSeq: number;
  lastEnd: number;
  lastStatus: string;
  lastReceived: number;
}

export interface TimelineRow {
  seq: number;
  start: number;
  end: number;
  status: string;
  frames: number;
  drivers: SummaryMessage['drivers'];
  /** Per family, on the threshold scale (protocol/levels.ts); absent from agents older than it. */
  familyScores?: Record<string, number>;
}

/** Which alerts: by state, and by what they are about (their site, device and camera labels). */
export interface AlertQuery {
  readonly state?: 'firing' | 'resolved';
  readonly limit: number;
  /** The (updatedAt, id) of the last alert of the previous page. */
  readonly before?: readonly [updatedAt: string, id: string];
  readonly site?: string;
  /** Needs `site`. */
  readonly device?: string;
  /** Needs `site` and `device`. */
  readonly camera?: string;
}

export type Stored = 'stored' | 'duplicate';

/** A value now (SQLite), or later (PostgreSQL): callers that serve both await it. */
export type Awaitable<T> = T | Promise<T>;

/**
 * What the HTTP API, the metrics and retention read and prune: every collector store (SQLite answers
 * at once, PostgreSQL over the network).
 */
export interface StoreQueries {
  device(site: string, device: string): Awaitable<DeviceRow | undefined>;
  devices(): Awaitable<DeviceRow[]>;
  cameras(): Awaitable<CameraRow[]>;
  camera(site: string, device: string, camera: string): Awaitable<CameraRow | undefined>;
  devicePage(after: readonly [site: string, device: string] | undefined, limit: number): Awaitable<DeviceRow[]>;
  cameraPage(after: readonly [site: string, device: string, camera: string] | undefined, limit: number): Awaitable<CameraRow[]>;
  timeline(site: string, device: string, camera: string, sinceTs: number, limit: number, beforeSeq?: number): Awaitable<TimelineRow[]>;
  summaries(site: string, device: string, camera: string): Awaitable<SummaryMessage[]>;
  summary(site: string, device: string, camera: string, seq: number): Awaitable<SummaryMessage | undefined>;
  alert(id: string): Awaitable<AlertRecord | undefined>;
  alerts(o: AlertQuery): Awaitable<AlertRecord[]>;
  quarantineSize(): Awaitable<number>;
  prune(now: number, keepMs: number, keepAlertsMs: number): Awaitable<number>;
}

/**
 * What the rules read and write, at once: the SQLite store itself, or on PostgreSQL the leader's
 * view (collector/cluster/leader-view.ts), which writes its alerts behind.
 */
export interface RuleStore {
  device(site: string, device: string): DeviceRow | undefined;
  devices(): DeviceRow[];
  alerts(o: AlertQuery): AlertRecord[];
  alert(id: string): AlertRecord | undefined;
  saveAlert(a: AlertRecord): void;
}

export interface CollectorStore {
  putStatus(s: StatusMessage, receivedTs: number): void;
  /**
   * Stores a summary unless (site, device, camera, seq) is already there, and marks its device seen;
   * `previousSeq` is the camera's last seq before. `raw` is the payload as received (stored as is).
   */
  addSummary(s: SummaryMessage, receivedTs: number, raw?: string): { result: Stored; previousSeq: number };
  addEvent(e: EventMessage, receivedTs: number, raw?: string): Stored;
  /** The highest summary seq stored for the camera (0: none yet). */
  lastSeq(site: string, device: string, camera: string): number;
  /** Keeps a summary apart, with the reason: stored, counted, not seen by rules (docs/mqtt.md). */
  quarantine(m: SummaryMessage, receivedTs: number, raw: string, reason: string): Stored;
  /** The highest quarantined seq of the camera (0: none). */
  quarantineTop(site: string, device: string, camera: string): number;
  /** Moves the camera's quarantined summaries into the store, in seq order; returns those stored. */
  releaseQuarantine(site: string, device: string, camera: string): SummaryMessage[];
  /** Summaries held in quarantine, all cameras. */
  quarantineSize(): number;
  /** What the collector adds to a camera's device seqs (summaries, events): non-zero after a new epoch. */
  seqOffsets(site: string, device: string, camera: string): { summary: number; event: number };
  /**
   * The device started its seqs again at 1 (a new epoch): from now on each of its cameras' seqs are
   * stored after the highest stored so far, so they are new, not repeats; its quarantine is dropped.
   */
  newEpoch(site: string, device: string): void;
  /**
   * The last epoch the device's births announced (undefined: none yet), not its last status's: an
   * offline status (a Last Will, a clean stop) names none (an older agent's) or names it for the
   * order only, and a device re-imaged while it was offline comes back with a new epoch, which
   * must be seen.
   */
  lastEpoch(site: string, device: string): string | undefined;
  device(site: string, device: string): DeviceRow | undefined;
  devices(): DeviceRow[];
  cameras(): CameraRow[];
  /** One camera's row (its latest window): a primary-key lookup. */
  camera(site: string, device: string, camera: string): CameraRow | undefined;
  /** A page of devices in (site, device) order, after the given key. */
  devicePage(after: readonly [site: string, device: string] | undefined, limit: number): DeviceRow[];
  /** A page of cameras in (site, device, camera) order, after the given key. */
  cameraPage(after: readonly [site: string, device: string, camera: string] | undefined, limit: number): CameraRow[];
  /** The camera's latest `limit` windows ending at or after `sinceTs` and below seq `beforeSeq`, oldest first. */
  timeline(site: string, device: string, camera: string, sinceTs: number, limit: number, beforeSeq?: number): TimelineRow[];
  summaries(site: string, device: string, camera: string): SummaryMessage[];
  /**
   * The camera's window with this seq, as received; undefined when there is none (pruned). With
   * CameraRow.lastSeq it is the camera's latest window: one primary-key lookup.
   */
  summary(site: string, device: string, camera: string, seq: number): SummaryMessage | undefined;
  saveAlert(a: AlertRecord): void;
  alert(id: string): AlertRecord | undefined;
  /** Alerts, most recently updated first; `before` is the (updatedAt, id) of the last alert of the previous page. */
  alerts(o: AlertQuery): AlertRecord[];
  /** Deletes what is past retention; returns the rows deleted. */
  prune(now: number, keepMs: number, keepAlertsMs: number): number;
  /** Opens a batch: the writes until commitBatch() become durable together (group commit). */
  beginBatch(): void;
  /** Commits the open batch; throws (and rolls back) when the database refuses it. */
  commitBatch(): void;
  close(): void;
}
