/**
 * The classes of the synthetic line. The detector is trained on the first four; `burn` and `stain`
 * are defect types held out of training on purpose, so that evaluation and drift tests can show how
 * the model behaves on a defect it has never seen. `burn` is the one out-of-distribution scoring is
 * tuned on; `stain` (a translucent teal coolant smear, unlike burn in hue, shape and edge) is kept out
 * of every tuning decision, so that it measures whether a score generalises to a second unseen defect.
 */
export const PART_KINDS = ['washer', 'bracket'] as const;
export type PartKind = (typeof PART_KINDS)[number];

export const TRAINED_DEFECTS = ['scratch', 'missing_notch'] as const;
export const HELD_OUT_DEFECT = 'burn' as const;
/** The second held-out defect: never trained on, never used to tune anything. */
export const SECOND_HELD_OUT_DEFECT = 'stain' as const;
export type Defect = 'none' | (typeof TRAINED_DEFECTS)[number] | typeof HELD_OUT_DEFECT | typeof SECOND_HELD_OUT_DEFECT;

/** Class index order, as written to data.yaml and as the shipped model predicts. */
export const CLASS_NAMES = ['washer', 'bracket', 'scratch', 'missing_notch', 'burn', 'stain'] as const;
export type ClassName = (typeof CLASS_NAMES)[number];
/** Classes the shipped model predicts (the held-out classes are not among them). */
export const MODEL_CLASS_COUNT = 4;
export const HELD_OUT_CLASS_IDS: readonly number[] = [4, 5];

/** A good part is labelled by its kind; a defective one by its defect. */
export function classOf(kind: PartKind, defect: Defect): number {
  if (defect === 'none') return kind === 'washer' ? 0 : 1;
  return CLASS_NAMES.indexOf(defect);
}
