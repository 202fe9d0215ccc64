/**
 * The fault suite's moving parts: the real `driftline agent` and `driftline collector` as child
 * processes (so they can be killed with SIGKILL), their configuration files, and what a test reads
 * from outside them (the agent's RSS and outbox, the collector's health).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CLI, ROOT } from '../helpers/cli.js';
import { endProcess, type Release } from '../helpers/ports.js';

export interface Proc {
  readonly proc: ChildProcess;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** The end of what it printed on stderr, for failure messages. */
  stderr(): string;
  /**
   * The HTTP address its "started" line named (undefined until then): how a test finds a process
   * given `http.port: 0`, which takes a port no other process can take first. A restarted process
   * is a new Proc with its own.
   */
  http(): string | undefined;
  /** SIGKILL: no goodbye, no flush. Resolves once it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (SIGKILL if it lingers): a clean stop. Idempotent. */
  stop(): Promise<void>;
}

/** Runs `driftline <args>`; the release ends it (SIGTERM, then SIGKILL) if the test has not. */
export function driftline(release: Release, name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DRIFTLINE_LOG_FORMAT: 'json', ...env } });
  let err = '';
  let http: string | undefined;
  /** Until the started line: the line being printed, whole lines dropped. */
  let line = '';
  proc.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    err = (err + text).slice(-6000);
    if (http !== undefined) return;
    line += text;
    const started = /"http":"(https?:\/\/[^"]+)"[^\n]*"msg":"(?:agent|collector|collector replica) started"/.exec(line);
    if (started) http = started[1];
    else line = line.slice(line.lastIndexOf('\n') + 1);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const stop = release(name, () => endProcess(proc, 10_000));
  return {
    proc,
    exited,
    stderr: () => err,
    http: () => http,
    kill9: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    stop,
  };
}

export interface AgentSetup {
  /** The config file for `driftline agent --config`. */
  readonly config: string;
  /** Its database (outbox, publish_seq). */
  readonly db: string;
  readonly cameras: readonly string[];
}

/**
 * Writes an agent config (`configName` in `dir`, agent.yaml by default; the database is always
 * dir/agent.db, so two configs can run one store): `cameras` synthetic cameras (small frames, a low rate, so several agents
 * and their brokers fit on a 2-core machine), short windows, no review frames. `sources` replaces the
 * synthetic cameras with these, by camera name (an ffmpeg camera, say); `drift` is the drift section.
 */
export async function agentSetup(
  dir: string,
  o: {
    url: string;
    site: string;
    device: string;
    cameras?: number;
    windowSeconds?: number;
    fps?: number;
    mqtt?: Record<string, unknown>;
    configName?: string;
    sources?: Readonly<Record<string, Record<string, unknown>>>;
    drift?: Record<string, unknown>;
  },
): Promise<AgentSetup> {
  const cameras = o.sources ? Object.keys(o.sources) : Array.from({ length: o.cameras ?? 4 }, (_, i) => `cam${i + 1}`);
  const config = join(dir, o.configName ?? 'agent.yaml');
  const db = join(dir, 'agent.db');
  await writeFile(
    config,
    JSON.stringify({
      model: { providers: ['cpu'], threads: 1 },
      store: { path: db },
      telemetry: { windowSeconds: o.windowSeconds ?? 2 },
      review: { enabled: false },
      mqtt: { url: o.url, site: o.site, device: o.device, reconnectMinMs: 100, reconnectMaxMs: 1000, drainPerSecond: 200, ...o.mqtt },
      http: { port: 0 },
      ...(o.drift ? { drift: o.drift } : {}),
      cameras: cameras.map((name, i) => ({ name, source: o.sources?.[name] ?? { kind: 'synthetic', width: 96, height: 72, fps: o.fps ?? 2, seed: i + 1 } })),
    }),
  );
  return { config, db, cameras };
}

export const startAgent = (release: Release, name: string, setup: AgentSetup): Proc => driftline(release, name, ['agent', '--config', setup.config]);

/** Resident set size of a live process, in KiB (/proc/pid/status VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/**
 * Rows waiting in the agent's outbox, read from its database while it runs (WAL: readers do not
 * block it); `kind`: only summaries, or only events.
 */
export function outboxRows(agentDb: string, kind?: 'summary' | 'event'): number {
  const db = new Database(agentDb, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    if (kind) return (db.prepare('SELECT count(*) AS n FROM outbox WHERE topic LIKE ?').get([`%/${kind}`]) as { n: number }).n;
    return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Summaries stored per camera, read from the collector's database file (in-process or CLI collector). */
export function storedCounts(collectorDb: string, site: string, device: string): Record<string, number> {
  const db = new Database(collectorDb, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    const rows = db.prepare('SELECT camera, count(*) AS n FROM summaries WHERE site = ? AND device = ? GROUP BY camera').all([site, device]) as { camera: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.camera, r.n]));
  } finally {
    db.close();
  }
}

/** Polls an async condition every 200 ms until it holds, or fails after `ms` naming what it waited for (and `detail()`). */
export async function untilAsync(cond: () => boolean | Promise<boolean>, ms: number, what: string, detail?: () => string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    let ok = false;
    try {
      ok = await cond();
    } catch {
      ok = false; // a database not created yet, a server not listening yet
    }
    if (ok) return;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `; ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
