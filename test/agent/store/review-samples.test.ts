/** agent/store/review-samples.ts: the review frames one camera saved within a window, oldest first, at most 64. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cameraIds } from '../../../agent/store/cameras.js';
import { openDatabase } from '../../../agent/store/database.js';
import { reviewSamplesIn } from '../../../agent/store/review-samples.js';

test("a window's review frames: its camera's only, inside its bounds, oldest first, at most 64", () => {
  const db = openDatabase(':memory:');
  try {
    const [dock, gate] = cameraIds(db, ['dock', 'gate']);
    const insert = db.prepare("INSERT INTO review_samples (camera_id, ts, frame, reason, file, width, height, bytes, detections, stats) VALUES (?, ?, 0, ?, ?, 640, 480, 1000, '[]', '{}')");
    insert.run(dock, 2000, 'ood', 'dock/b.jpg');
    insert.run(dock, 1000, 'uncertain', 'dock/a.jpg');
    insert.run(dock, 3001, 'ood', 'dock/late.jpg');
    insert.run(gate, 1500, 'ood', 'gate/a.jpg');
    const inWindow = reviewSamplesIn(db);
    assert.deepEqual(inWindow(dock!, 1000, 3000), [
      { file: 'dock/a.jpg', ts: 1000, reason: 'uncertain' },
      { file: 'dock/b.jpg', ts: 2000, reason: 'ood' },
    ]);
    for (let i = 0; i < 70; i++) insert.run(gate, 10_000 + i, 'ood', `gate/${i}.jpg`);
    const many = inWindow(gate!, 10_000, 20_000);
    assert.equal(many.length, 64);
    assert.equal(many[0]!.file, 'gate/0.jpg');
  } finally {
    db.close();
  }
});
