/**
 * What the agent tells about its cameras and its device as it runs, in the log and as MQTT events
 * on each camera's topic, and how often: a camera that stalls and resumes, a camera's source errors
 * (at most one event and SOURCE_ERROR_LINES log lines a minute per camera), a wall clock that steps (at most one event a minute per
 * camera, with how many steps it speaks for), and a store that fills up or recovers (on every
 * camera's topic). Without MQTT (mqtt.url empty) only the log lines remain.
 *
 * The events are created before the MQTT link: the storage watch reports through them and the link
 * reports its failed writes to the storage watch. The link is handed over with sendThrough() once
 * it is open; nothing is sent before: the sources and the pipeline start after it, and the storage
 * timer, though created earlier, first fires after the start has ended.
 */
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { Throttle } from '../../lib/throttle.js';
import type { EventKind } from '../../protocol/messages.js';
import type { FrameSource } from '../source/source.js';
import type { StorageFull, StorageRecovered } from '../store/storage-watch.js';
import type { DeviceLink } from './link.js';

const MINUTE = 60_000;
/**
 * Source error lines logged a minute per camera. ffmpeg prints a line per damaged packet, and a
 * corrupt file that loops printed 72 in 27 s; the rest are counted in the next line logged (and
 * every one in the camera's errored frames on /metrics).
 */
export const SOURCE_ERROR_LINES = 10;

/** A frame source's state change or error. */
export type SourceEvent = Parameters<NonNullable<FrameSource['onEvent']>>[0];

export interface CameraEventsOptions {
  /** Every camera's name: device-wide reports go on each camera's topic. */
  readonly cameras: readonly string[];
  /** The store's path, in the storage log lines. */
  readonly store: string;
  readonly log: Logger;
  readonly clock: Clock;
}

/** What the events need of the MQTT link. */
export type EventLink = Pick<DeviceLink, 'event'>;

export class CameraEvents {
  private link: EventLink | undefined;
  private readonly sourceErrors: Throttle;
  private readonly sourceLines: Throttle;
  private readonly clockSteps: Throttle;

  constructor(private readonly o: CameraEventsOptions) {
    this.sourceErrors = new Throttle(MINUTE, () => o.clock.monotonic(), { strictly: true });
    this.sourceLines = new Throttle(MINUTE, () => o.clock.monotonic(), { burst: SOURCE_ERROR_LINES });
    this.clockSteps = new Throttle(MINUTE, () => o.clock.monotonic());
  }

  /** From now on the events go out on `link` as well as to the log. */
  sendThrough(link: EventLink): void {
    this.link = link;
  }

  /** The listener for camera `camera`'s source events; `reconnects` reads its reconnect count. */
  source(camera: string, reconnects: () => number): (e: SourceEvent) => void {
    let wasDown = false;
    return (e) => {
      const { log } = this.o;
      if (e.type === 'state') {
        log.info({ camera, state: e.state }, `camera ${camera} ${e.state}`);
        if (e.state === 'stalled') {
          wasDown = true;
          this.link?.event(camera, 'stalled', `camera ${camera} delivered no frame within its stall timeout`);
        } else if (e.state === 'streaming' && wasDown) {
          wasDown = false;
          this.link?.event(camera, 'resumed', `camera ${camera} is delivering frames again`, { reconnects: reconnects() });
        }
        return;
      }
      const n = this.sourceLines.take(camera);
      if (n > 1) log.warn({ camera, reason: e.reason, notLogged: n - 1 }, `camera ${camera} error, after ${n - 1} not logged`);
      else if (n === 1 && this.sourceLines.spent(camera)) log.warn({ camera, reason: e.reason }, `camera ${camera} error; its next ones this minute are counted, not logged`);
      else if (n === 1) log.warn({ camera, reason: e.reason }, `camera ${camera} error`);
      // A camera in a reconnect loop must not flood the outbox.
      if (this.sourceErrors.take(camera) > 0) this.link?.event(camera, 'sourceError', e.reason);
    };
  }

  /** The wall clock stepped by `stepMs` (positive: forward) between two of `camera`'s frames; its window was cut before `ts`. */
  clockStep(camera: string, stepMs: number, ts: number): void {
    const how = `the wall clock stepped ${stepMs > 0 ? 'forward' : 'back'} by ${(Math.abs(stepMs) / 1000).toFixed(1)} s`;
    this.o.log.warn({ camera, stepMs, ts }, `${how}: camera ${camera}'s window was cut there`);
    // A clock that keeps stepping must not flood the outbox.
    const steps = this.clockSteps.take(camera);
    if (steps > 0) this.link?.event(camera, 'clockStep', `${how}; the window was cut there`, { stepMs: Math.round(stepMs), steps });
  }

  /** StorageWatch's onFull: logs it and returns the sender of its event on every camera's topic. */
  storageFull(r: StorageFull): () => boolean {
    this.o.log.error({ ...r, store: this.o.store }, 'storage full: shedding telemetry by the retention policy (the outbox is kept)');
    return this.everyCamera('storageFull', `the store is out of space (${Math.round(r.freeBytes / 1024)} KiB free): telemetry shed by the retention policy`, { ...r });
  }

  /** StorageWatch's onRecovered: logs it and returns the sender of its event on every camera's topic. */
  storageRecovered(r: StorageRecovered): () => boolean {
    this.o.log.info({ ...r, store: this.o.store }, 'storage recovered');
    return this.everyCamera('storageRecovered', `the store has space again (${Math.round(r.freeBytes / 1024)} KiB free) after ${r.fullForSeconds} s`, { ...r });
  }

  /**
   * One sender per device-wide report: true once every camera's outbox took it. `sent` remembers
   * which cameras' outbox took it, so a retry on a later pass sends only to the others.
   */
  private everyCamera(kind: EventKind, message: string, detail: Record<string, unknown>): () => boolean {
    const sent = new Set<string>();
    const { cameras } = this.o;
    return () => {
      const link = this.link;
      if (!link) return true;
      for (const c of cameras) if (!sent.has(c) && link.event(c, kind, message, detail) > 0) sent.add(c);
      return sent.size === cameras.length;
    };
  }
}
