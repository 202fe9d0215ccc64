/**
 * A PostgreSQL database of the test's own: created with a unique name on the server at
 * DRIFTLINE_TEST_PG_URL (default: the machine's, postgres://postgres@127.0.0.1:5432/postgres, trust
 * auth as on the development and CI machines) and dropped when the test ends.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import type { PostgresStore } from '../../collector/store/postgres-store.js';
import type { StatusMessage } from '../../protocol/messages.js';
import { until } from './wait.js';

export const PG_ADMIN_URL = process.env.DRIFTLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A new empty database; its URL. Dropped (its sessions ended first) in t.after. */
export async function testDatabase(t: Pick<TestContext, 'after'>, label = 'test'): Promise<string> {
  const name = `driftline_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  t.after(async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  });
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A connected client, ended when the test ends. The database's drop (testDatabase) may end its
 * session first: that is not a failure of the test.
 */
export async function testClient(t: Pick<TestContext, 'after'>, url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  t.after(() => c.end().catch(() => undefined));
  return c;
}

/** Stores one status as ingest does (a batch of its own, received at `receivedTs`), and waits for its commit. */
export async function putStatus(store: PostgresStore, m: StatusMessage, receivedTs: number): Promise<void> {
  store.beginBatch();
  const stored = store.stageStatus(m, receivedTs, JSON.stringify(m));
  await store.commitBatch();
  await stored;
}

/**
 * How long a test waits on what another test file's open transaction can hold back: the feed's
 * horizon, and so anything a leader reads from the feed. Each wait ends as soon as its condition holds.
 */
export const HORIZON_WAIT_MS = 30_000;

/**
 * Waits until the feed's horizon (PostgresStore.horizon: the oldest transaction still open on the
 * whole server, in any database) has passed every transaction that committed before this call, so
 * that a feed read or a first start's replay sees them. Test files run two at a time on one server:
 * the other file's open transaction (a write, a row lock, a migration, CREATE DATABASE) holds the
 * horizon back for as long as it is open.
 */
export async function horizonPastCommitted(store: PostgresStore): Promise<void> {
  const { next } = await store.snapshot();
  await until(async () => BigInt(await store.horizon()) >= BigInt(next), HORIZON_WAIT_MS, `the server-wide horizon to pass ${next} (a transaction open on the server holds it back)`);
}
