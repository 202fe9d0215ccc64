/**
 * The PostgreSQL store's schema: numbered migrations, applied in order under an advisory lock so
 * that replicas starting together migrate once. The version is a row in `schema_version`.
 *
 * The sequence rules (docs/mqtt.md, "Sequence numbers") run inside the database, in
 * driftline_ingest_summaries: replicas behind a shared subscription each receive a share of every
 * camera's summaries, so only the database sees a camera's whole sequence. The function locks the
 * camera's row, so two replicas storing the same camera at once take turns, and a batch is passed
 * sorted by (site, device, camera), arrival order kept within a camera, so that two batches lock rows in one order
 * (devices before cameras, each in key order). Not always: a new camera's row is created before
 * the burst's existing rows are locked, and a burst in parts (a new epoch) locks part by part. Two
 * such bursts may deadlock; the server refuses one and the store writes it again (postgres-store.ts write()).
 *
 * Payloads (4 KB of JSON a summary) are compressed with lz4, not PostgreSQL's default pglz: as
 * small on disk for JSON, at a fraction of the CPU per insert.
 *
 * Retention deletes in batches through the BRIN index on received_ts (rows arrive in time order),
 * each batch its own short transaction: no partitions, so the dedupe key (site, device, camera,
 * seq) is the table's primary key (docs/scale.md has the measurement behind the choice).
 */
/**
 * The sequence functions' arguments (a burst, column by column) and result: the set-based function
 * hands a burst with a seq jump to the row-by-row one as it is, so the two take the same.
 */
const INGEST_SIGNATURE = `(
    p_site TEXT[], p_device TEXT[], p_camera TEXT[], p_seq BIGINT[], p_start BIGINT[], p_end BIGINT[],
    p_status TEXT[], p_frames INTEGER[], p_received BIGINT[], p_payload TEXT[], p_time TEXT[], p_max_jump BIGINT
  ) RETURNS TABLE (idx INTEGER, outcome TEXT, prev BIGINT, stored_seq BIGINT) LANGUAGE plpgsql`;

/**
 * Migration 3's function, as it was created: migration 4 replaces its last statement, and keeping
 * the text once says exactly what changed.
 */
const SET_BASED_INGEST = `
  CREATE FUNCTION driftline_ingest_summaries${INGEST_SIGNATURE} AS $$
  DECLARE
    jumps BOOLEAN;
  BEGIN
    -- The burst's cameras: created if new, then locked in key order (as every burst does).
    INSERT INTO cameras (site, device, camera, last_seq, last_end, last_status, last_received)
      SELECT DISTINCT k.site, k.device, k.camera, 0::bigint, 0::bigint, '', 0::bigint FROM unnest(p_site, p_device, p_camera) AS k(site, device, camera)
      ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING;
    PERFORM 1 FROM cameras c JOIN (SELECT DISTINCT k.site, k.device, k.camera FROM unnest(p_site, p_device, p_camera) AS k(site, device, camera)) k
      ON c.site = k.site AND c.device = k.device AND c.camera = k.camera
      ORDER BY c.site, c.device, c.camera FOR UPDATE OF c;
    CREATE TEMP TABLE IF NOT EXISTS driftline_burst (
      i BIGINT PRIMARY KEY, site TEXT, device TEXT, camera TEXT, s BIGINT, off BIGINT, start_ts BIGINT, end_ts BIGINT, status TEXT, frames INTEGER,
      received BIGINT, time_problem TEXT, prevmax BIGINT, kind TEXT
    ) ON COMMIT DELETE ROWS;
    DELETE FROM driftline_burst; -- a burst of several calls in one transaction (ON COMMIT empties it too)
    -- Everything but the payloads: sorting 4 KB payloads through the window functions spilled to disk.
    INSERT INTO driftline_burst
      WITH b AS (
        SELECT x.i, x.site, x.device, x.camera, x.seq + coalesce(e.summary_offset, 0) AS s, coalesce(e.summary_offset, 0) AS off,
               x.start_ts, x.end_ts, x.status, x.frames, x.received, x.time_problem, c.last_seq AS last
        FROM unnest(p_site, p_device, p_camera, p_seq, p_start, p_end, p_status, p_frames, p_received, p_time)
             WITH ORDINALITY AS x(site, device, camera, seq, start_ts, end_ts, status, frames, received, time_problem, i)
        JOIN cameras c ON c.site = x.site AND c.device = x.device AND c.camera = x.camera
        LEFT JOIN epochs e ON e.site = x.site AND e.device = x.device AND e.camera = x.camera
      ), r AS (
        SELECT b.*, greatest(b.last, coalesce(max(CASE WHEN b.time_problem IS NULL THEN b.s END)
                 OVER (PARTITION BY b.site, b.device, b.camera ORDER BY b.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS prevmax,
               row_number() OVER (PARTITION BY b.site, b.device, b.camera, b.s, b.time_problem IS NULL ORDER BY b.i) AS nth
        FROM b
      )
      SELECT r.i, r.site, r.device, r.camera, r.s, r.off, r.start_ts, r.end_ts, r.status, r.frames, r.received,
             r.time_problem, r.prevmax,
             CASE
               WHEN r.time_problem IS NOT NULL THEN CASE WHEN r.prevmax > 0 AND r.s <= r.prevmax THEN 'dup' WHEN r.nth = 1 THEN 'time' ELSE 'dup' END
               WHEN r.nth > 1 THEN 'dup'
               WHEN r.prevmax > 0 AND r.s <= r.prevmax THEN CASE WHEN r.prevmax - r.s < p_max_jump THEN 'late' ELSE 'dup' END
               WHEN r.prevmax > 0 AND r.s > r.prevmax + p_max_jump THEN 'jump'
               ELSE 'new'
             END
      FROM r;
    SELECT bool_or(d.kind = 'jump') INTO jumps FROM driftline_burst d;
    IF jumps THEN
      DELETE FROM driftline_burst;
      RETURN QUERY SELECT * FROM driftline_ingest_summaries_loop(p_site, p_device, p_camera, p_seq, p_start, p_end, p_status, p_frames, p_received, p_payload, p_time, p_max_jump);
      RETURN;
    END IF;
    RETURN QUERY
      WITH p AS (
        -- Each payload read once, in order, its row found by the key (a rescan of unnest would detoast again).
        SELECT u.i, CASE WHEN d.off = 0 THEN u.payload ELSE jsonb_set(u.payload::jsonb, '{seq}', to_jsonb(d.s))::text END AS body
        FROM unnest(p_payload) WITH ORDINALITY AS u(payload, i) JOIN driftline_burst d ON d.i = u.i
      ), ins AS (
        INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload)
          SELECT d.site, d.device, d.camera, d.s, d.start_ts, d.end_ts, d.status, d.frames, d.received, p.body
          FROM p JOIN driftline_burst d ON d.i = p.i WHERE d.kind IN ('new', 'late') -- in p's order, arrival: no sort of the payloads
          ON CONFLICT DO NOTHING
          RETURNING summaries.site, summaries.device, summaries.camera, summaries.seq
      ), q AS (
        INSERT INTO quarantine (site, device, camera, seq, received_ts, reason, payload)
          SELECT d.site, d.device, d.camera, d.s, d.received, 'time: ' || d.time_problem, p.body FROM driftline_burst d JOIN p ON p.i = d.i WHERE d.kind = 'time'
          ON CONFLICT DO NOTHING
          RETURNING quarantine.site, quarantine.device, quarantine.camera, quarantine.seq
      ), top AS (
        SELECT DISTINCT ON (d.site, d.device, d.camera) d.site, d.device, d.camera, d.s, d.end_ts, d.status, d.received
        FROM driftline_burst d JOIN ins ON ins.site = d.site AND ins.device = d.device AND ins.camera = d.camera AND ins.seq = d.s
        WHERE d.kind = 'new' ORDER BY d.site, d.device, d.camera, d.s DESC
      ), cam AS (
        UPDATE cameras c SET last_seq = t.s, last_end = t.end_ts, last_status = t.status, last_received = t.received
        FROM top t WHERE c.site = t.site AND c.device = t.device AND c.camera = t.camera AND c.last_seq < t.s
        RETURNING 1
      )
      SELECT d.i::integer,
             CASE
               WHEN d.kind = 'time' THEN CASE WHEN q.seq IS NULL THEN 'duplicate' ELSE 'quarantined' END
               WHEN d.kind = 'dup' OR ins.seq IS NULL THEN 'duplicate'
               WHEN d.kind = 'late' THEN 'late'
               ELSE 'stored'
             END,
             d.prevmax, d.s
      FROM driftline_burst d
      LEFT JOIN ins ON d.kind IN ('new', 'late') AND ins.site = d.site AND ins.device = d.device AND ins.camera = d.camera AND ins.seq = d.s
      LEFT JOIN q ON d.kind = 'time' AND q.site = d.site AND q.device = d.device AND q.camera = d.camera AND q.seq = d.s
      ORDER BY d.i;
  END $$;
`;

/** The one place of `marker` in `text`; a migration built from another fails to load if its text moved. */
function onlyPlace(text: string, marker: string): number {
  const at = text.indexOf(marker);
  if (at < 0 || text.indexOf(marker, at + 1) >= 0) throw new Error(`migration text: expected one ${JSON.stringify(marker.slice(0, 60))}`);
  return at;
}

/** `text` with everything from `start` up to and including `end` (each found once) replaced by `by`. */
function replacedFrom(text: string, start: string, end: string, by: string): string {
  const from = onlyPlace(text, start);
  const to = onlyPlace(text, end) + end.length;
  return text.slice(0, from) + by + text.slice(to);
}

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE devices (
    site TEXT COLLATE "C" NOT NULL, device TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (site, device)
  );
  CREATE TABLE cameras (
    site TEXT COLLATE "C" NOT NULL, device TEXT COLLATE "C" NOT NULL, camera TEXT COLLATE "C" NOT NULL,
    last_seq BIGINT NOT NULL, last_end BIGINT NOT NULL, last_status TEXT NOT NULL, last_received BIGINT NOT NULL,
    PRIMARY KEY (site, device, camera)
  );
  CREATE TABLE summaries (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL, seq BIGINT NOT NULL,
    start_ts BIGINT NOT NULL, end_ts BIGINT NOT NULL, status TEXT NOT NULL, frames INTEGER NOT NULL,
    received_ts BIGINT NOT NULL,
    payload TEXT COMPRESSION lz4 NOT NULL,
    xid XID8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (site, device, camera, seq)
  );
  CREATE INDEX summaries_feed ON summaries (xid, id);
  CREATE INDEX summaries_received ON summaries USING brin (received_ts);
  CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL, seq BIGINT NOT NULL,
    ts BIGINT NOT NULL, kind TEXT NOT NULL, received_ts BIGINT NOT NULL, payload TEXT NOT NULL,
    xid XID8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (site, device, camera, seq)
  );
  CREATE INDEX events_feed ON events (xid, id);
  CREATE INDEX events_received ON events USING brin (received_ts);
  -- Every status as received, in order: the leader's rules read them (a status upserts devices).
  CREATE TABLE statuses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site TEXT NOT NULL, device TEXT NOT NULL, received_ts BIGINT NOT NULL,
    previous TEXT,
    payload TEXT NOT NULL,
    xid XID8 NOT NULL DEFAULT pg_current_xact_id()
  );
  CREATE INDEX statuses_feed ON statuses (xid, id);
  CREATE INDEX statuses_received ON statuses USING brin (received_ts);
  CREATE TABLE alerts (
    id TEXT COLLATE "C" PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    starts_at TEXT COLLATE "C" NOT NULL, updated_at TEXT COLLATE "C" NOT NULL,
    record JSONB NOT NULL,
    site TEXT COLLATE "C", device TEXT COLLATE "C", camera TEXT COLLATE "C"
  );
  CREATE INDEX alerts_state ON alerts (state, updated_at, id);
  CREATE INDEX alerts_scope ON alerts (site, device, camera, updated_at, id);
  CREATE UNIQUE INDEX alerts_one_firing ON alerts (fingerprint) WHERE state = 'firing';
  CREATE TABLE quarantine (
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL, seq BIGINT NOT NULL,
    received_ts BIGINT NOT NULL, reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (site, device, camera, seq)
  );
  CREATE TABLE epochs (
    site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL,
    summary_offset BIGINT NOT NULL, event_offset BIGINT NOT NULL,
    PRIMARY KEY (site, device, camera)
  );
  -- What each notifier has delivered of each alert: a new leader sends what the old one did not.
  CREATE TABLE deliveries (
    alert_id TEXT NOT NULL, sink TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL, at BIGINT NOT NULL,
    PRIMARY KEY (alert_id, sink)
  );
  -- The replicas, by MQTT client id. Each holds an advisory lock on its id while it runs; the leader
  -- takes over the broker session of one whose lock is free (it died) and then deletes its row.
  CREATE TABLE replicas (
    client_id TEXT PRIMARY KEY,
    host TEXT NOT NULL, pid INTEGER NOT NULL, started BIGINT NOT NULL,
    leader_since BIGINT
  );
  `,
  // 2: the sequence rules, in the database (header), row by row: the path for a burst with a seq jump
  // (quarantine and release); driftline_ingest_summaries takes the others in a few set-based
  // statements. The burst's rows are read through unnest, once
  // each (subscripting the array parameters in the loop would detoast them per row: quadratic), and
  // a camera's row is locked once and written once per burst (its rows come together, in arrival
  // order), not once per summary: ten updates of one row in a transaction make each next lookup
  // walk the versions before it.
  `
  CREATE FUNCTION driftline_ingest_summaries_loop${INGEST_SIGNATURE} AS $$
  DECLARE
    u RECORD;
    off BIGINT;
    s BIGINT;
    body TEXT;
    last BIGINT;
    top BIGINT;
    n INTEGER;
    r RECORD;
    -- The camera being written: its key, and its row as it will be written.
    k_site TEXT; k_device TEXT; k_camera TEXT;
    c_end BIGINT; c_status TEXT; c_received BIGINT; dirty BOOLEAN := false;
  BEGIN
    FOR u IN SELECT * FROM unnest(p_site, p_device, p_camera, p_seq, p_start, p_end, p_status, p_frames, p_received, p_payload, p_time)
        WITH ORDINALITY AS x(site, device, camera, seq, start_ts, end_ts, status, frames, received, payload, time_problem, i) LOOP
      IF k_site IS DISTINCT FROM u.site OR k_device IS DISTINCT FROM u.device OR k_camera IS DISTINCT FROM u.camera THEN
        IF dirty THEN
          UPDATE cameras c SET last_seq = last, last_end = c_end, last_status = c_status, last_received = c_received
            WHERE c.site = k_site AND c.device = k_device AND c.camera = k_camera;
        END IF;
        k_site := u.site; k_device := u.device; k_camera := u.camera; dirty := false;
        SELECT e.summary_offset INTO off FROM epochs e WHERE e.site = u.site AND e.device = u.device AND e.camera = u.camera;
        off := coalesce(off, 0);
        SELECT c.last_seq, c.last_end, c.last_status, c.last_received INTO last, c_end, c_status, c_received
          FROM cameras c WHERE c.site = u.site AND c.device = u.device AND c.camera = u.camera FOR UPDATE;
        IF NOT FOUND THEN
          INSERT INTO cameras (site, device, camera, last_seq, last_end, last_status, last_received)
            VALUES (u.site, u.device, u.camera, 0, 0, '', 0) ON CONFLICT DO NOTHING;
          SELECT c.last_seq, c.last_end, c.last_status, c.last_received INTO last, c_end, c_status, c_received
            FROM cameras c WHERE c.site = u.site AND c.device = u.device AND c.camera = u.camera FOR UPDATE;
        END IF;
      END IF;
      s := u.seq + off;
      body := CASE WHEN off = 0 THEN u.payload ELSE jsonb_set(u.payload::jsonb, '{seq}', to_jsonb(s))::text END;
      -- Below the camera's last: a repeat, or (replicas share a camera's summaries, so its order is
      -- not kept) one that arrived late. A late one within maxSeqJump fills its gap; the primary
      -- key keeps out the repeats.
      IF last > 0 AND s <= last THEN
        IF u.time_problem IS NULL AND last - s < p_max_jump THEN
          INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload)
            VALUES (u.site, u.device, u.camera, s, u.start_ts, u.end_ts, u.status, u.frames, u.received, body)
            ON CONFLICT DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          IF n > 0 THEN idx := u.i; outcome := 'late'; prev := last; stored_seq := s; RETURN NEXT; CONTINUE; END IF;
        END IF;
        idx := u.i; outcome := 'duplicate'; prev := last; stored_seq := s; RETURN NEXT; CONTINUE;
      END IF;
      IF u.time_problem IS NOT NULL THEN
        INSERT INTO quarantine VALUES (u.site, u.device, u.camera, s, u.received, 'time: ' || u.time_problem, body) ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        idx := u.i; outcome := CASE WHEN n > 0 THEN 'quarantined' ELSE 'duplicate' END; prev := last; stored_seq := s; RETURN NEXT; CONTINUE;
      END IF;
      prev := last;
      IF last > 0 AND s > last + p_max_jump THEN
        SELECT max(q.seq) INTO top FROM quarantine q WHERE q.site = u.site AND q.device = u.device AND q.camera = u.camera AND q.reason NOT LIKE 'time:%';
        IF top IS NULL OR s <> top + 1 THEN
          INSERT INTO quarantine VALUES (u.site, u.device, u.camera, s, u.received,
            'seq ' || s || ' is ' || (s - last) || ' past the camera''s last (' || last || '); more than ' || p_max_jump, body) ON CONFLICT DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          idx := u.i; outcome := CASE WHEN n > 0 THEN 'quarantined' ELSE 'duplicate' END; stored_seq := s; RETURN NEXT; CONTINUE;
        END IF;
        -- The device goes on from the jump: it was real. Release what was kept apart, in seq order.
        FOR r IN DELETE FROM quarantine q WHERE q.site = u.site AND q.device = u.device AND q.camera = u.camera AND q.reason NOT LIKE 'time:%' RETURNING q.* LOOP
          INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload)
            SELECT r.site, r.device, r.camera, r.seq, (j->>'start')::bigint, (j->>'end')::bigint, j->>'status', (j->>'frames')::integer, r.received_ts, r.payload
            FROM (SELECT r.payload::jsonb AS j) x
            ON CONFLICT DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          IF n > 0 THEN
            idx := u.i; outcome := 'released'; stored_seq := r.seq; RETURN NEXT;
            IF r.seq > last THEN last := r.seq; dirty := true; END IF;
          END IF;
        END LOOP;
      END IF;
      INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload)
        VALUES (u.site, u.device, u.camera, s, u.start_ts, u.end_ts, u.status, u.frames, u.received, body)
        ON CONFLICT DO NOTHING;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n = 0 THEN
        idx := u.i; outcome := 'duplicate'; stored_seq := s; RETURN NEXT; CONTINUE;
      END IF;
      last := s; c_end := u.end_ts; c_status := u.status; c_received := u.received; dirty := true;
      idx := u.i; outcome := 'stored'; stored_seq := s; RETURN NEXT;
    END LOOP;
    IF dirty THEN
      UPDATE cameras c SET last_seq = last, last_end = c_end, last_status = c_status, last_received = c_received
        WHERE c.site = k_site AND c.device = k_device AND c.camera = k_camera;
    END IF;
  END $$;
  `,
  // 3: the sequence rules for a burst without a seq jump, set-based: a handful of statements for the
  // whole burst instead of several per summary (the loop above cost ~300 µs a summary here, this
  // ~40). Each camera's rows are ranked in arrival order against the camera's last seq and the
  // burst's earlier rows: new (above all of them), late (below, within maxSeqJump, not stored yet),
  // a repeat, or kept apart for its times. Same outcomes as the loop, which the store tests check.
  SET_BASED_INGEST,
  // 4: the same function, with no join whose plan depends on the burst table's row estimates. Each
  // payload is paired with its burst row once (pd); the stored rows (new and late, in arrival order)
  // and the kept-apart ones are inserted straight from it; the camera's new last seq comes from the
  // stored rows' RETURNING. Migration 3 joined the burst table to the payloads, and the inserted rows back to the
  // burst, filtered by kind: with no statistics for the temporary table the planner estimated one row
  // on a side and chose nested loops, so a burst of n rows made n x n comparisons (250 rows: 62,250,
  // half of the function's time). Same outcomes; the store tests check them.
  replacedFrom(
    replacedFrom(SET_BASED_INGEST, 'CREATE FUNCTION', 'CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'),
    '      WITH p AS (',
    '      ), cam AS (',
    `      WITH pd AS (
        -- Each payload read once, in order, paired with its burst row (a rescan of unnest would detoast again).
        SELECT d.*, CASE WHEN d.off = 0 THEN u.payload ELSE jsonb_set(u.payload::jsonb, '{seq}', to_jsonb(d.s))::text END AS body
        FROM unnest(p_payload) WITH ORDINALITY AS u(payload, i) JOIN driftline_burst d ON d.i = u.i
      ), ins AS (
        -- New and late rows in one statement, in arrival order within a camera (the feed's order).
        INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload)
          SELECT x.site, x.device, x.camera, x.s, x.start_ts, x.end_ts, x.status, x.frames, x.received, x.body FROM pd x WHERE x.kind IN ('new', 'late')
          ON CONFLICT DO NOTHING
          RETURNING summaries.site, summaries.device, summaries.camera, summaries.seq, summaries.end_ts, summaries.status, summaries.received_ts
      ), q AS (
        INSERT INTO quarantine (site, device, camera, seq, received_ts, reason, payload)
          SELECT x.site, x.device, x.camera, x.s, x.received, 'time: ' || x.time_problem, x.body FROM pd x WHERE x.kind = 'time'
          ON CONFLICT DO NOTHING
          RETURNING quarantine.site, quarantine.device, quarantine.camera, quarantine.seq
      ), top AS (
        -- The highest stored seq of each camera. A late row is below an earlier stored row of the
        -- burst or below the camera's last, so where it is the highest, the update's last_seq < s
        -- keeps the camera as it was, as migration 3 did. (They differ only for a new row found
        -- already stored above the camera's last seq, a state the sequence rules never leave.)
        SELECT DISTINCT ON (n.site, n.device, n.camera) n.site, n.device, n.camera, n.seq AS s, n.end_ts, n.status, n.received_ts AS received
        FROM ins n ORDER BY n.site, n.device, n.camera, n.seq DESC
      ), cam AS (`,
  ),
  // 5: the device's last epoch apart from its last status: an offline status names none, and a
  // device re-imaged while offline comes back with a new one. Read from the stored statuses as
  // text (a status that JSONB cannot hold, one with a NUL escape, must not stop the upgrade).
  `
  ALTER TABLE devices ADD COLUMN epoch TEXT;
  UPDATE devices SET epoch = substring(status from '"epoch"[[:space:]]*:[[:space:]]*"([^"\\\\]*)"');
  `,
  // 6: how far the leaders' rules have read the feed (cluster/leader.ts): a new leader goes on from
  // there, so what was stored between the old leader's last read and its death is acted on too.
  `
  CREATE TABLE leader_feed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    status_xid XID8 NOT NULL, status_id BIGINT NOT NULL,
    summary_xid XID8 NOT NULL, summary_id BIGINT NOT NULL,
    event_xid XID8 NOT NULL, event_id BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  `,
  // 7: statuses in receive order, whatever order replicas commit them in: the device row keeps the
  // latest received (a Last Will committed after the next birth no longer marks the device
  // offline), and a status received before it is kept in the history, marked superseded.
  `
  ALTER TABLE devices ADD COLUMN status_received BIGINT;
  UPDATE devices SET status_received = last_seen;
  ALTER TABLE statuses ADD COLUMN superseded BOOLEAN NOT NULL DEFAULT false;
  `,
  // 8: the receive time of the status each device row holds, from its copy in the statuses: migration 7
  // took last_seen, which any message moves, so the next Last Will, received by a replica whose
  // clock is a little behind the one that stored the last summary, was taken for an older status.
  `
  UPDATE devices d SET status_received = s.received
    FROM (SELECT s.site, s.device, max(s.received_ts) AS received FROM statuses s
          JOIN devices x ON x.site = s.site AND x.device = s.device AND x.status = s.payload GROUP BY s.site, s.device) s
    WHERE s.site = d.site AND s.device = d.device;
  `,
  // 9: the leaders' term, the fencing token of their writes (beginTerm, postgres-store.ts): a leader's
  // alert and read-position writes check it, so none that a lost leader still sends commits after
  // the next leader has begun.
  `
  CREATE TABLE leader_term (id INTEGER PRIMARY KEY CHECK (id = 1), term BIGINT NOT NULL);
  INSERT INTO leader_term VALUES (1, 0);
  `,
];
