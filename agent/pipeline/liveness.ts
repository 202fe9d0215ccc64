/**
 * Is the frame loop alive? The one check behind the agent's /healthz, meant for the systemd watchdog
 * too, so that both declare the agent dead for the same reason.
 *
 * A camera is wedged when it is streaming (connected and delivering) and has had a frame waiting for
 * longer than the bound without any frame of it finishing: an inference that never returns, a stage
 * that hangs. It is measured from the frame that waits, not from the last frame that finished, so a
 * camera that delivers one frame a minute is not wedged for being slow; and a camera that stalls or
 * reconnects is the source's business (its watchdog restarts it), not the pipeline's.
 */

/** What the pipeline keeps per camera for this check (Pipeline.progress), on the monotonic clock (ms). */
export interface CameraProgress {
  readonly camera: string;
  /** The source is connected and delivering frames. */
  readonly streaming: boolean;
  /** Since when a frame of this camera has been waiting or in flight; NaN while none is. */
  readonly waitingSince: number;
  /** When the last frame of this camera finished (written, or failed); NaN before the first. */
  readonly lastDone: number;
}

export interface Wedged {
  readonly camera: string;
  /** How long its oldest unfinished frame has waited. */
  readonly waitingSeconds: number;
  /** Since the last frame of it finished; undefined when none ever did. */
  readonly lastFrameSecondsAgo: number | undefined;
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/** The wedged cameras (none: the pipeline is alive), given the monotonic time now and the bound, both ms. */
export function pipelineWedged(cameras: readonly CameraProgress[], nowMono: number, boundMs: number): Wedged[] {
  const out: Wedged[] = [];
  for (const c of cameras) {
    if (!c.streaming || Number.isNaN(c.waitingSince)) continue;
    const waited = nowMono - c.waitingSince;
    if (waited <= boundMs) continue;
    out.push({ camera: c.camera, waitingSeconds: seconds(waited), lastFrameSecondsAgo: Number.isNaN(c.lastDone) ? undefined : seconds(nowMono - c.lastDone) });
  }
  return out;
}

/** One line for a log, a health answer or a watchdog status: which cameras, for how long, and the bound. */
export function describeWedged(wedged: readonly Wedged[], boundMs: number): string {
  const each = wedged.map((w) => `camera ${w.camera} has had a frame waiting for ${w.waitingSeconds} s (last frame finished ${w.lastFrameSecondsAgo === undefined ? 'never' : `${w.lastFrameSecondsAgo} s ago`})`);
  return `pipeline wedged: ${each.join('; ')}; bound ${boundMs / 1000} s`;
}
