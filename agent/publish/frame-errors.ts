/**
 * The log lines for frames that fail in the pipeline (PipelineOptions.onFrameError): the first
 * failure of each camera and stage at once, then at most one line a minute with how many failed
 * since the last line. A camera that fails on every frame is seen without flooding the log; the
 * pipeline's counters (and /metrics) count every failure either way.
 */
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { Throttle } from '../../lib/throttle.js';

const MINUTE = 60_000;

/** Returns the onFrameError listener that logs through `log`, throttled on `clock`'s monotonic time. */
export function frameErrorLog(log: Logger, clock: Clock): (camera: string, stage: string, error: unknown) => void {
  const throttle = new Throttle(MINUTE, () => clock.monotonic());
  return (camera, stage, error) => {
    const failed = throttle.take(`${camera}\n${stage}`);
    if (failed === 0) return;
    const err = error instanceof Error ? error.message : String(error);
    const what = failed === 1 ? `a frame failed at ${stage}` : `${failed} frames failed at ${stage} since the last report, the last with`;
    log.warn({ camera, stage, err, failed }, `camera ${camera}: ${what}: ${err}`);
  };
}
