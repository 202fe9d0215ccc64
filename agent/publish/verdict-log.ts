/**
 * The log line for each scored window: a change of a camera's verdict is news (info), a steady one
 * is debug detail. Kept out of the composition root, which only wires the window's consumers.
 */
import type { Logger } from '../../lib/log.js';
import type { Driver, DriftResult } from '../drift/types.js';

/** How many of a window's top drift drivers its line names. */
const DRIVERS = 3;

export class VerdictLog {
  /** Each camera's last verdict. */
  private readonly last = new Map<string, string>();

  constructor(private readonly log: Logger) {}

  /** Logs camera `camera`'s window of `frames` frames, scored as `result`. */
  window(camera: string, frames: number, result: { readonly severity: DriftResult['severity']; readonly drivers: readonly Pick<Driver, 'key' | 'value'>[] }): void {
    const fields = { camera, frames, severity: result.severity, drivers: result.drivers.slice(0, DRIVERS).map((d) => `${d.key}=${d.value.toPrecision(3)}`) };
    if (this.last.get(camera) !== result.severity) this.log.info(fields, `camera ${camera} drift ${result.severity}`);
    else this.log.debug(fields, 'window scored');
    this.last.set(camera, result.severity);
  }
}
