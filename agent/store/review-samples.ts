/**
 * The review frames a camera saved within a window (agent/review/sampler.ts writes them): each
 * window's summary names them, so that whoever reads the summary can fetch the hard cases.
 */
import type { Db } from './database.js';

export interface ReviewSampleRef {
  readonly file: string;
  readonly ts: number;
  readonly reason: string;
}

/** Most review frames one summary names. */
const PER_WINDOW = 64;

/** Returns the query: the review frames of camera `cameraId` stamped in [fromTs, toTs], oldest first. */
export function reviewSamplesIn(db: Db): (cameraId: number, fromTs: number, toTs: number) => ReviewSampleRef[] {
  const inWindow = db.prepare(`SELECT file, ts, reason FROM review_samples WHERE camera_id = ? AND ts >= ? AND ts <= ? ORDER BY ts LIMIT ${PER_WINDOW}`);
  return (cameraId, fromTs, toTs) => inWindow.all([cameraId, fromTs, toTs]) as ReviewSampleRef[];
}
