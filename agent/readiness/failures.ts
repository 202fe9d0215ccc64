/**
 * How a model fails, object by object: safely or silently. For every ground-truth object it asks
 * what the line would have been told at the operating thresholds:
 *
 * - `correct`: a detection of the object's class, at or above that class's threshold, IoU >= 0.5;
 * - `silent`: no such detection, but a confident one (at or above its own class's threshold) of
 *   another class: a part reported as the wrong thing, and for a defective part called good, a
 *   confident "no defect". Nothing downstream can tell; this is the failure that ships bad parts;
 * - `low-confidence`: nothing confident at all. The object goes unreported: a missing count, a low
 *   score in the confidence histograms, a failure that monitoring can see.
 *
 * An object of a class the model does not have (a held-out defect) can never be `correct`: it is
 * `silent` when some known class claims it confidently, `low-confidence` otherwise.
 *
 * The confidence histogram is of each object's best score at IoU >= 0.5, any class (0 when nothing
 * overlaps it): where it sits under a corruption against nominal is the confidence shift.
 */
import { iou, type Box, type ScoredBox } from './metrics.js';

export const CONFIDENCE_BINS = 10;

export type Outcome = 'correct' | 'silent' | 'low-confidence';

export interface FailureTally {
  readonly objects: number;
  readonly correct: number;
  readonly silent: number;
  readonly lowConfidence: number;
  /** Silent outcomes by the class that claimed the object (model class index). */
  readonly silentAs: number[];
  /** Histogram of each object's best overlapping score, CONFIDENCE_BINS bins over [0, 1]. */
  readonly bestScore: number[];
  /** Mean of the best overlapping scores. */
  readonly meanBestScore: number;
}

export class FailureCounter {
  private objects = 0;
  private correct = 0;
  private silent = 0;
  private lowConfidence = 0;
  private sumBest = 0;
  private readonly silentAs: number[];
  private readonly bestScore = new Array<number>(CONFIDENCE_BINS).fill(0);

  /**
   * @param thresholds per model class
   * @param modelClassOf maps a ground-truth class to the model's class index, or -1 when the model
   *   has no such class
   */
  constructor(
    private readonly thresholds: ArrayLike<number>,
    private readonly modelClassOf: (gtClass: number) => number,
    private readonly iouThr = 0.5,
  ) {
    this.silentAs = new Array<number>(thresholds.length).fill(0);
  }

  /**
   * Counts the objects of one image. `dets` are what the agent would report (thresholds and
   * suppression applied; a detection below its class's threshold is ignored anyway); `all`, every
   * detection down to the floor, gives each object's best score (default: `dets`).
   */
  add(gts: readonly Box[], dets: readonly ScoredBox[], all: readonly ScoredBox[] = dets): Outcome[] {
    const outcomes: Outcome[] = [];
    for (const g of gts) {
      const want = this.modelClassOf(g.classId);
      let best = 0;
      for (const d of all) if (d.score > best && iou(d, g) >= this.iouThr) best = d.score;
      let ok = false;
      let claimScore = -1;
      let claimClass = -1;
      for (const d of dets) {
        if (iou(d, g) < this.iouThr) continue;
        if (d.score < this.thresholds[d.classId]!) continue;
        if (d.classId === want) ok = true;
        else if (d.score > claimScore) {
          claimScore = d.score;
          claimClass = d.classId;
        }
      }
      this.objects++;
      this.sumBest += best;
      this.bestScore[Math.min(CONFIDENCE_BINS - 1, Math.floor(best * CONFIDENCE_BINS))]!++;
      let o: Outcome;
      if (ok) {
        this.correct++;
        o = 'correct';
      } else if (claimClass >= 0) {
        this.silent++;
        this.silentAs[claimClass]!++;
        o = 'silent';
      } else {
        this.lowConfidence++;
        o = 'low-confidence';
      }
      outcomes.push(o);
    }
    return outcomes;
  }

  tally(): FailureTally {
    return {
      objects: this.objects,
      correct: this.correct,
      silent: this.silent,
      lowConfidence: this.lowConfidence,
      silentAs: [...this.silentAs],
      bestScore: [...this.bestScore],
      meanBestScore: this.objects ? this.sumBest / this.objects : Number.NaN,
    };
  }
}

/** Which way a set of objects mostly fails: the larger of silent and low-confidence, when any fail. */
export function dominantFailure(t: FailureTally): 'silent' | 'low-confidence' | 'none' {
  if (t.silent + t.lowConfidence === 0) return 'none';
  return t.silent >= t.lowConfidence ? 'silent' : 'low-confidence';
}

/** Histogram of the top detection score of each image (0 for an image with none), for unlabelled OOD folders. */
export function topScoreHistogram(perImage: readonly (readonly ScoredBox[])[]): number[] {
  const h = new Array<number>(CONFIDENCE_BINS).fill(0);
  for (const dets of perImage) {
    let top = 0;
    for (const d of dets) if (d.score > top) top = d.score;
    h[Math.min(CONFIDENCE_BINS - 1, Math.floor(top * CONFIDENCE_BINS))]!++;
  }
  return h;
}
