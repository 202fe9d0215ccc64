/**
 * Each camera's last closed window, as the metrics show it: when it ended, its verdict, each feature
 * family's score and the flagged-frame rates. The window reporter (publish/window-report.ts) records it once per window (from
 * the pipeline's onWindow); /metrics reads it at scrape time. Nothing here runs per frame.
 */
import type { FeatureFamily } from '../../protocol/features.js';
import type { Verdict } from '../../protocol/messages.js';
import { VERDICT_VALUES } from '../../protocol/levels.js';

export interface LastWindow {
  /** The window's end, seconds since the epoch. */
  readonly endSeconds: number;
  /** VERDICT_VALUES of its verdict. */
  readonly verdict: number;
  /** Per family, on the warn = 1, alert = 2 scale; empty when the window was not judged. */
  readonly families: Partial<Record<FeatureFamily, number>>;
  /** Shares of its frames; undefined when it was not scored (drift off). */
  readonly rates: { readonly uncertain: number; readonly ood: number; readonly oodDetection: number } | undefined;
}

export class LastWindows {
  private readonly last = new Map<string, LastWindow>();

  record(camera: string, endTs: number, verdict: Verdict, families: LastWindow['families'], rates: LastWindow['rates']): void {
    this.last.set(camera, { endSeconds: endTs / 1000, verdict: VERDICT_VALUES[verdict], families, rates });
  }

  /** The cameras that closed a window, with their last one. */
  entries(): IterableIterator<[string, LastWindow]> {
    return this.last.entries();
  }
}
