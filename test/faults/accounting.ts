/**
 * The fault suite's accounting (issue 11, item 7): after a scenario, what the agent committed to its
 * outbox against what the collector holds. Every scenario ends with one line,
 *
 *   produced=N stored=N quarantined=N duplicated=N lost=N
 *
 * - produced: the summary seqs the agent handed out (its publish_seq, read after it stopped), so
 *   every (camera, 1..last) was committed to its outbox;
 * - stored: distinct (camera, seq) in the collector's summaries;
 * - quarantined: distinct (camera, seq) kept apart with a reason (docs/mqtt.md);
 * - duplicated: (camera, seq) stored more than once (the primary key should make this impossible);
 * - lost: produced seqs neither stored nor quarantined.
 *
 * Both databases are read from their files, read-only, so the same code serves a collector in the
 * test's process and one run as `driftline collector`.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { lastSeqs } from '../helpers/collector.js';
import { untilAsync } from './processes.js';

export interface Accounting {
  produced: number;
  stored: number;
  quarantined: number;
  duplicated: number;
  lost: number;
  /** Per camera: the last seq the agent handed out, and the lost seqs (at most 20 listed). */
  cameras: Record<string, { last: number; lost: number[] }>;
}

export interface AccountOf {
  /** The agent's database: its publish_seq is what it produced. Read after the agent stopped. */
  readonly agentDb: string;
  /** The collector's database file (testCollector: `collector.store.file`). */
  readonly collectorDb: string;
  readonly site: string;
  readonly device: string;
  readonly cameras: readonly string[];
}

/** Counts what was produced, stored, quarantined, stored twice and lost. */
export function account(o: AccountOf): Accounting {
  const last = lastSeqs(o.agentDb, o.cameras);
  const db = new Database(o.collectorDb, { readonly: true });
  try {
    const counted = db.prepare('SELECT seq, count(*) AS n FROM summaries WHERE site = ? AND device = ? AND camera = ? GROUP BY seq');
    const apart = db.prepare('SELECT DISTINCT seq FROM quarantine WHERE site = ? AND device = ? AND camera = ?');
    const acc: Accounting = { produced: 0, stored: 0, quarantined: 0, duplicated: 0, lost: 0, cameras: {} };
    for (const cam of o.cameras) {
      const rows = counted.all([o.site, o.device, cam]) as { seq: number; n: number }[];
      const stored = new Set(rows.map((r) => r.seq));
      const quarantined = new Set((apart.all([o.site, o.device, cam]) as { seq: number }[]).map((r) => r.seq));
      const n = last[cam]!;
      const lost: number[] = [];
      for (let seq = 1; seq <= n; seq++) if (!stored.has(seq) && !quarantined.has(seq)) lost.push(seq);
      acc.produced += n;
      acc.stored += stored.size;
      acc.quarantined += quarantined.size;
      acc.duplicated += rows.filter((r) => r.n > 1).length;
      acc.lost += lost.length;
      acc.cameras[cam] = { last: n, lost: lost.slice(0, 20) };
    }
    return acc;
  } finally {
    db.close();
  }
}

/**
 * After the agent stopped: waits until the collector holds every seq the agent handed out, stored
 * or quarantined. Not fatal: when something is missing, the accounting line says which seqs.
 */
export async function untilAllStored(o: AccountOf, ms = 30_000): Promise<void> {
  await untilAsync(() => account(o).lost === 0, ms, 'every summary at the collector').catch(() => undefined);
}

/** The sum of per-camera counts (stored summaries, seqs handed out). */
export const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

export const accountingLine = (a: Accounting): string => `produced=${a.produced} stored=${a.stored} quarantined=${a.quarantined} duplicated=${a.duplicated} lost=${a.lost}`;

/**
 * Prints the scenario's accounting line (t.diagnostic) and asserts that nothing was lost or stored
 * twice, and that the scenario produced something at all. `extra` is printed on a line of its own
 * (informational figures: duplicates seen at ingest, the scenario's duration).
 */
export function report(t: TestContext, a: Accounting, extra?: string): void {
  t.diagnostic(accountingLine(a));
  if (extra) t.diagnostic(extra);
  const where = Object.entries(a.cameras)
    .filter(([, c]) => c.lost.length)
    .map(([cam, c]) => `${cam} (last ${c.last}): ${c.lost.join(', ')}`)
    .join('; ');
  assert.ok(a.produced > 0, 'the agent produced summaries');
  assert.equal(a.lost, 0, `lost seqs: ${where}`);
  assert.equal(a.duplicated, 0, 'seqs stored more than once');
}
