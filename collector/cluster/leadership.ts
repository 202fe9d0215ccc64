/**
 * Which replica leads, decided by PostgreSQL advisory locks on one dedicated connection per replica
 * (docs/scale.md):
 * - each replica holds a lock on its own MQTT client id while it runs: a second process with the
 *   same id is refused at start, and a replica whose lock is free is dead (its connection, and with
 *   it its locks, went when the process did);
 * - the leader holds the leader lock. Standbys try for it every `pollMs`; when the leader dies its
 *   connection closes and the next try succeeds. A leader that loses its connection stops leading
 *   at once (it can no longer know it holds the lock) and tries again once it is back.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { driftlineError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { redactUrl } from '../../lib/redact.js';
import { withPassword } from '../store/postgres-url.js';
import { beginTerm, SERVER_KEEPALIVES } from '../store/postgres-store.js';

const LEADER = "pg_try_advisory_lock(hashtext('driftline'), hashtext('leader'))";
const UNLOCK_LEADER = "pg_advisory_unlock(hashtext('driftline'), hashtext('leader'))";
/**
 * How long taking the term may wait for an earlier leader's write in flight: one cut off mid-write
 * ends within 30 s (the server's idle-in-transaction limit on the collector's sessions). Longer, the
 * check fails, this replica lets the lock go, and it (or another) tries again: the wait is bounded
 * on the server, so no session waits on holding the lock after that.
 */
const TERM_WAIT_MS = 40_000;
const replicaLock = (fn: 'pg_try_advisory_lock' | 'pg_advisory_unlock'): string => `${fn}(hashtext('driftline'), hashtext('replica:' || $1))`;

export interface LeadershipOptions {
  readonly url: string;
  /** Replaces the URL's password (store.passwordFile). */
  readonly password?: string;
  /** This replica's MQTT client id: its identity among the replicas. */
  readonly clientId: string;
  readonly pollMs: number;
  readonly log: Logger;
  /**
   * Leadership begins, as term `term` (the fencing token of the leader's writes, taken on the lock's
   * connection: beginTerm, postgres-store.ts); the promise settles when the leader is ready (rules rebuilt).
   */
  readonly onLead: (term: number) => Promise<void>;
  /** Leadership ended: the lock's connection was lost (`lost`), or this replica is stopping (`stopped`). */
  readonly onStandby: (why: 'lost' | 'stopped') => void;
}

/** A replica that is gone, locked by the leader while it takes over its broker session. */
export interface DeadReplica {
  readonly clientId: string;
  /** Taken over: deletes its row and unlocks it. */
  release(): Promise<void>;
  /** Not taken over: unlocks it for the next try. */
  abandon(): Promise<void>;
}

export class Leadership {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  /** A stopping replica: it no longer tries for the lead (standDown). */
  private standingDown = false;
  private busy = false;
  /** The poll in progress: stop() waits for it, so that no connection or lead outlives the stop. */
  private polling: Promise<void> = Promise.resolve();
  /** Replicas whose id's lock was found free, and since when: gone only once it has stayed free (deadReplicas). */
  private readonly suspects = new Map<string, number>();

  constructor(private readonly o: LeadershipOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Connects, claims this replica's id (refused when a running replica has it), registers it, and starts trying to lead. */
  async start(): Promise<void> {
    await this.connect(true);
    this.timer = setInterval(() => void this.poll(), this.o.pollMs);
    await this.poll();
  }

  private poll(): Promise<void> {
    if (this.busy || this.stopped) return this.polling;
    this.polling = this.check();
    return this.polling;
  }

  private async connect(first: boolean): Promise<void> {
    const c = new pg.Client({
      connectionString: withPassword(this.o.url, this.o.password),
      application_name: `driftline-collector ${this.o.clientId}`.slice(0, 63),
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      connectionTimeoutMillis: 10_000,
      // A check that does not answer within this long ends the leadership on this side: at most 8 s.
      // The server's side of the lease (its keepalives end a silent connection after 11 s, below)
      // frees the lock for a standby; with leaderPollSeconds up to 3 (default 1) this side has
      // stopped leading by then, since its next check starts within a poll and gives up 8 s later.
      query_timeout: Math.min(8000, Math.max(5000, this.o.pollMs * 5)),
    });
    c.on('error', (e) => this.lost(c, e));
    c.on('end', () => this.lost(c, new Error('connection ended')));
    // Whatever fails from here on, or a stop() that came meanwhile, ends this connection: a session
    // left open would hold this replica's id (and its process) for good.
    try {
      await c.connect();
      // The server's side of the lease: a replica cut off from the network holds its locks only until
      // PostgreSQL's keepalives give up on its connection (5 + 3 x 2 s), not for the kernel's 2 hours.
      await c.query(SERVER_KEEPALIVES);
      const r = await c.query<{ ok: boolean }>(`SELECT ${replicaLock('pg_try_advisory_lock')} AS ok`, [this.o.clientId]);
      if (!r.rows[0]!.ok) throw driftlineError('DRIFTLINE_ERR_REPLICA_ID', { clientId: this.o.clientId, file: redactUrl(this.o.url), first });
      await c.query(
        `INSERT INTO replicas (client_id, host, pid, started) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started = excluded.started, leader_since = NULL`,
        [this.o.clientId, hostname(), process.pid, Date.now()],
      );
      if (this.stopped) throw new Error('stopped while connecting');
    } catch (e) {
      await c.end().catch(() => undefined);
      throw e;
    }
    this.client = c;
  }

  /**
   * A replica that is stopping no longer tries for the lead (it would hold the lock without running
   * the rules until its stop ends, up to its commits' wait): the others take it. One that leads goes
   * on holding it until stop(), so that its last writes and deliveries are made while it still leads.
   */
  standDown(): void {
    this.standingDown = true;
  }

  private lost(c: pg.Client, e: Error, logged = false): void {
    if (this.client !== c) return;
    this.client = undefined;
    if (!this.stopped && !logged) this.o.log.error({ err: e.message }, 'lost the store connection that holds the leadership locks; reconnecting');
    if (this.leading) {
      this.leading = false;
      this.o.onStandby('lost');
    }
  }

  private async check(): Promise<void> {
    this.busy = true;
    try {
      if (!this.client) await this.connect(false);
      const c = this.client!;
      if (this.leading) {
        await c.query('SELECT 1'); // the connection is the lease: a failure here ends leadership (lost())
        return;
      }
      if (this.standingDown) return;
      const r = await c.query<{ ok: boolean }>(`SELECT ${LEADER} AS ok`);
      if (!r.rows[0]!.ok) return;
      await c.query('UPDATE replicas SET leader_since = $2 WHERE client_id = $1', [this.o.clientId, Date.now()]);
      // Stopped (or the connection lost) meanwhile: the lock goes with the connection; do not lead.
      if (this.stopped || this.client !== c) return;
      // Standing down meanwhile: the connection stays (its replica lock with it), the lead goes back now.
      if (this.standingDown) return this.releaseLead(c);
      // The fencing token, while holding the lock: it waits for an earlier leader's writes in flight
      // (TERM_WAIT_MS at most).
      const term = await beginTerm(c, TERM_WAIT_MS);
      if (this.stopped || this.client !== c) return;
      if (this.standingDown) return this.releaseLead(c); // asked to stop while it waited: the term goes unused
      this.leading = true;
      this.o.log.info({ clientId: this.o.clientId, term }, 'this replica leads: it runs the rules and sends the notifications');
      await this.o.onLead(term);
    } catch (e) {
      // Whatever failed, this side can no longer know it holds the locks: it stops leading, drops
      // the connection (the server then releases them) and connects again on the next poll.
      const c = this.client;
      if (c) {
        this.lost(c, e as Error);
        void c.end().catch(() => undefined);
      }
      if (!this.stopped) this.o.log.warn({ err: (e as Error).message }, 'leadership check failed; trying again');
    } finally {
      this.busy = false;
    }
  }

  /** Lets go of the leader lock just taken (a replica standing down), keeping the connection and its replica lock. */
  private async releaseLead(c: pg.Client): Promise<void> {
    await c.query('UPDATE replicas SET leader_since = NULL WHERE client_id = $1', [this.o.clientId]);
    await c.query(`SELECT ${UNLOCK_LEADER}`);
  }

  /**
   * Replicas registered but not running, other than this one: their id's lock was free when first
   * looked at, and is still free `gone` ms later (default three polls, at least 2 s). A running
   * replica whose own connection blipped takes its lock back on its next poll, so it is not taken
   * for dead and its live broker session is not taken over. Each is returned locked by this
   * replica: call release() when its broker session has been taken over, which also deletes its
   * row, or abandon() when the takeover failed, so that the next try (or the replica itself,
   * starting again) can have it. Advisory locks count: a lock taken twice must be given back twice,
   * so every one returned must end in one of the two.
   */
  async deadReplicas(gone = Math.max(2000, 3 * this.o.pollMs)): Promise<DeadReplica[]> {
    const c = this.client;
    if (!c) return [];
    const rows = (await c.query<{ client_id: string }>('SELECT client_id FROM replicas WHERE client_id <> $1', [this.o.clientId])).rows;
    for (const id of this.suspects.keys()) if (!rows.some((r) => r.client_id === id)) this.suspects.delete(id);
    const dead: DeadReplica[] = [];
    try {
      for (const r of rows) await this.lockIfGone(c, r.client_id, gone, dead);
    } catch (e) {
      // Whatever was locked so far is given back: a lock left here would refuse that id for good.
      for (const d of dead) await d.abandon().catch(() => undefined);
      throw e;
    }
    return dead;
  }

  /** Adds `id` to `dead`, locked, if its lock has been free for `gone` ms; otherwise leaves it unlocked. */
  private async lockIfGone(c: pg.Client, id: string, gone: number, dead: DeadReplica[]): Promise<void> {
    const got = await c.query<{ ok: boolean }>(`SELECT ${replicaLock('pg_try_advisory_lock')} AS ok`, [id]);
    if (!got.rows[0]!.ok) {
      this.suspects.delete(id);
      return;
    }
    const unlock = async (): Promise<void> => void (await c.query(`SELECT ${replicaLock('pg_advisory_unlock')}`, [id]));
    const since = this.suspects.get(id);
    if (since === undefined || Date.now() - since < gone) {
      if (since === undefined) this.suspects.set(id, Date.now());
      await unlock(); // free now; dead only if it stays free
      return;
    }
    dead.push({
      clientId: id,
      release: async () => {
        await c.query('DELETE FROM replicas WHERE client_id = $1', [id]);
        await unlock();
      },
      abandon: unlock,
    });
  }

  /**
   * Gives the lead up at once, as a lost connection does (onStandby('lost')): another replica has
   * begun a later term (a write of this one was fenced), so this one no longer leads, whatever its
   * lock says. It tries for the lead again from its next poll.
   */
  resign(why: string): void {
    const c = this.client;
    if (!c || !this.leading) return;
    this.o.log.error({ err: why }, 'another replica began leading (this one had lost its lock without knowing): it gives the lead up');
    this.lost(c, new Error(why), true);
    void c.end().catch(() => undefined);
  }

  /** Stops trying; ends the connection, which releases this replica's locks (and the leadership). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.leading) {
      this.leading = false;
      this.o.onStandby('stopped');
    }
    // A check in progress (a reconnect, a rebuild after taking the lead) ends before the connection does.
    await this.polling.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    // The row stays: the leader takes over this replica's broker session (whatever the broker still
    // holds for it) unless it starts again first.
    if (c) await c.end().catch(() => undefined);
  }
}
