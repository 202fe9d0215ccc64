/**
 * The collector's SQLite schema: numbered migrations, applied in order by lib/sqlite-migrations.ts
 * (a database's user_version is how many it has had). Append only: a migration that shipped is
 * never edited, and a new one carries what changes. The store that reads and writes these tables is
 * sqlite-store.ts; PostgreSQL's schema is postgres-schema.ts.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE devices (
    site TEXT NOT NULL, device TEXT NOT NULL,
    state TEXT NOT NULL,            -- online | offline
    last_seen INTEGER NOT NULL,     -- receive time of the last message, ms
    status TEXT NOT NULL,           -- JSON: the last status message
    PRIMARY KEY (site, device)
  );
  CREATE TABLE cameras (
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL,
    last_seq INTEGER NOT NULL, last_end INTEGER NOT NULL, last_status TEXT NOT NULL, last_received INTEGER NOT NULL,
    PRIMARY KEY (site, device, camera)
  );
  CREATE TABLE summaries (
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL, seq INTEGER NOT NULL,
    start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, status TEXT NOT NULL, frames INTEGER NOT NULL,
    received_ts INTEGER NOT NULL,
    payload TEXT NOT NULL,          -- JSON: the summary as received
    PRIMARY KEY (site, device, camera, seq)
  );
  CREATE TABLE events (
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL, seq INTEGER NOT NULL,
    ts INTEGER NOT NULL, kind TEXT NOT NULL, received_ts INTEGER NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (site, device, camera, seq)
  );
  CREATE INDEX events_received ON events(received_ts);
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,            -- firing | resolved
    starts_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    record TEXT NOT NULL            -- JSON: the alert with labels, evidence, acknowledgement
  );
  CREATE INDEX alerts_state ON alerts(state, updated_at);
  `,
  // 2: summaries whose seq jumped too far ahead of the camera's last, kept apart (docs/mqtt.md).
  `
  CREATE TABLE quarantine (
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL, seq INTEGER NOT NULL,
    received_ts INTEGER NOT NULL, reason TEXT NOT NULL,
    payload TEXT NOT NULL,          -- JSON: the summary as received
    PRIMARY KEY (site, device, camera, seq)
  );
  `,
  // 3: seq offsets per camera, for devices that started a new sequence epoch (docs/mqtt.md).
  `
  CREATE TABLE epochs (
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL,
    summary_offset INTEGER NOT NULL, event_offset INTEGER NOT NULL,
    PRIMARY KEY (site, device, camera)
  );
  `,
  // 4: alerts by what they are about (the page's history of one camera or device), from their labels.
  `
  ALTER TABLE alerts ADD COLUMN site TEXT;
  ALTER TABLE alerts ADD COLUMN device TEXT;
  ALTER TABLE alerts ADD COLUMN camera TEXT;
  UPDATE alerts SET site = json_extract(record, '$.labels.site'), device = json_extract(record, '$.labels.device'), camera = json_extract(record, '$.labels.camera');
  CREATE INDEX alerts_scope ON alerts(site, device, camera, updated_at);
  `,
  // 5: summaries without a per-camera key; keys in summary_keys, written in bulk (header, docs/performance.md).
  // The table is rebuilt once (SQLite drops no primary key in place); rowids are kept as the ids.
  `
  CREATE TABLE summary_cameras (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL,
    UNIQUE (site, device, camera)
  );
  INSERT INTO summary_cameras (site, device, camera) SELECT DISTINCT site, device, camera FROM summaries ORDER BY site, device, camera;
  CREATE TABLE summaries_5 (
    id INTEGER PRIMARY KEY,         -- receive order; what summary_keys.rid names (stable under VACUUM)
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL, seq INTEGER NOT NULL,
    start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, status TEXT NOT NULL, frames INTEGER NOT NULL,
    received_ts INTEGER NOT NULL,
    payload TEXT NOT NULL,          -- JSON: the summary as received
    cam INTEGER NOT NULL            -- summary_cameras.id
  );
  INSERT INTO summaries_5 (id, site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload, cam)
    SELECT s.rowid, s.site, s.device, s.camera, s.seq, s.start_ts, s.end_ts, s.status, s.frames, s.received_ts, s.payload, c.id
    FROM summaries s JOIN summary_cameras c USING (site, device, camera) ORDER BY s.rowid;
  DROP TABLE summaries;
  ALTER TABLE summaries_5 RENAME TO summaries;
  CREATE TABLE summary_keys (
    cam INTEGER NOT NULL, seq INTEGER NOT NULL,
    rid INTEGER NOT NULL,           -- summaries.id
    PRIMARY KEY (cam, seq)
  ) WITHOUT ROWID;
  INSERT INTO summary_keys (cam, seq, rid) SELECT cam, seq, id FROM summaries ORDER BY cam, seq;
  CREATE INDEX summary_keys_rid ON summary_keys(rid);
  `,
  // 6: the device's last epoch apart from its last status: an offline status names none, and a
  // device re-imaged while offline comes back with a new one (store.ts lastEpoch).
  `
  ALTER TABLE devices ADD COLUMN epoch TEXT;
  UPDATE devices SET epoch = json_extract(status, '$.epoch');
  `,
];
