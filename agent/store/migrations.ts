/**
 * Numbered schema migrations for the agent's SQLite database. The database's `user_version` is the
 * number of migrations applied; each runs once, in order, in its own transaction. Never edit a
 * migration that has shipped: add a new one.
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
];
