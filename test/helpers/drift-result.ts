/** A window's drift result as the judge builds it, calm unless `o` says otherwise: for tests of what is done with one. */
import type { DriftResult } from '../../agent/drift/types.js';

export const driftResult = (severity: DriftResult['severity'], o: Partial<DriftResult> = {}): DriftResult => ({
  severity,
  frames: 600,
  thresholds: 'calibrated',
  drivers: [],
  rates: { uncertain: 0.1, ood: 0, oodDetection: 0.02 },
  oodFeatures: {},
  sequential: { topScore: { statistic: 0, alarm: false }, uncertain: { statistic: 0, alarm: false }, classMix: { statistic: 0, alarm: false } },
  scores: {},
  ...o,
});
