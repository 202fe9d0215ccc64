/**
 * Numbered schema migrations for the agent's SQLite database, run by lib/sqlite-migrations.ts (the
 * database's `user_version` counts those applied). Never edit a migration that has shipped: add a
 * new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: cameras, per-frame telemetry, per-window aggregates.
  `
  CREATE TABLE cameras (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
  );
  CREATE TABLE frames (
    camera_id INTEGER NOT NULL REFERENCES cameras(id),
    ts INTEGER NOT NULL,            -- capture time, ms since the epoch
    frame INTEGER NOT NULL,         -- frame counter of the camera's source
    brightness REAL, brightness_spread REAL, contrast REAL,
    mean_r REAL, mean_g REAL, mean_b REAL, colour_temp REAL, saturation REAL,
    sharpness REAL, under_exposed REAL, over_exposed REAL, entropy REAL,
    detections INTEGER, top_score REAL, mean_score REAL, candidates INTEGER,
    mean_box_area REAL, mean_aspect REAL,
    preprocess_ms REAL, inference_ms REAL, postprocess_ms REAL
  );
  CREATE INDEX frames_ts ON frames(ts);
  CREATE INDEX frames_camera_ts ON frames(camera_id, ts);
  CREATE TABLE windows (
    id INTEGER PRIMARY KEY,
    camera_id INTEGER NOT NULL REFERENCES cameras(id),
    start_ts INTEGER NOT NULL,
    end_ts INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    dropped INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    stats TEXT NOT NULL             -- JSON: per-feature summaries, class counts, histograms, latency
  );
  CREATE INDEX windows_camera_end ON windows(camera_id, end_ts);
  `,
  // 2: drift results per window, the per-frame count of uncertain detections, review samples.
  `
  ALTER TABLE frames ADD COLUMN uncertain INTEGER;
  ALTER TABLE windows ADD COLUMN severity TEXT;   -- ok | warn | alert | insufficient; NULL: not scored
  ALTER TABLE windows ADD COLUMN drift TEXT;      -- JSON: scores, thresholds, drivers (docs/drift.md)
  CREATE INDEX windows_camera_severity ON windows(camera_id, severity, end_ts);
  CREATE TABLE review_samples (
    id INTEGER PRIMARY KEY,
    camera_id INTEGER NOT NULL REFERENCES cameras(id),
    ts INTEGER NOT NULL,            -- capture time, ms since the epoch
    frame INTEGER NOT NULL,
    reason TEXT NOT NULL,           -- uncertain | ood | uncertain+ood
    file TEXT NOT NULL,             -- JPEG path, relative to the review directory
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    detections TEXT NOT NULL,       -- JSON: [{class, score, box: [x1, y1, x2, y2]}] in the JPEG's pixels
    stats TEXT NOT NULL             -- JSON: the frame's input and detection statistics
  );
  CREATE INDEX review_samples_ts ON review_samples(ts);
  CREATE INDEX review_samples_camera_ts ON review_samples(camera_id, ts);
  `,
  // 3: the MQTT outbox (store and forward), per-stream sequence numbers, agent facts across restarts.
  `
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- publish order; never reused
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,          -- JSON, as published
    created_ts INTEGER NOT NULL     -- ms since the epoch
  );
  CREATE TABLE publish_seq (
    stream TEXT PRIMARY KEY,        -- "<camera>/summary" or "<camera>/event"
    seq INTEGER NOT NULL            -- the last seq handed out
  );
  CREATE TABLE agent_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 4: the per-frame count of out-of-distribution detections (detection-level OOD scoring, agent/ood).
  // Review samples may now give the reason oodDetection, alone or joined with the others by '+'.
  `
  ALTER TABLE frames ADD COLUMN ood_detections INTEGER;
  `,
];
