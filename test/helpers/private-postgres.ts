/**
 * A PostgreSQL server of the test's own that asks for passwords (scram-sha-256 on 127.0.0.1), as a
 * fresh Debian install does and the machine's trust-auth server does not: how a test proves the
 * collector's credentials reach the server. A new cluster (initdb, ~0.5 s) in a temporary folder, on
 * a free port, with fsync off; stopped (fast shutdown) and deleted when the test ends.
 *
 * PostgreSQL will not run as root: under root (CI, the development machines) its programs run as the
 * `postgres` user that Debian's postgresql package creates (setpriv, from util-linux), in a folder
 * given to that user.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { onFreePort, type Release } from './ports.js';

const run = promisify(execFile);

/** The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/<major>/bin), or DRIFTLINE_TEST_PG_BINDIR. */
async function binDir(): Promise<string> {
  if (process.env.DRIFTLINE_TEST_PG_BINDIR) return process.env.DRIFTLINE_TEST_PG_BINDIR;
  const majors = (await readdir('/usr/lib/postgresql').catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!majors.length) throw new Error('no PostgreSQL server programs in /usr/lib/postgresql (the postgresql package, .ci/packages.txt), and DRIFTLINE_TEST_PG_BINDIR is not set');
  return join('/usr/lib/postgresql', majors[0]!, 'bin');
}

export interface PasswordServer {
  /** postgres://<role>@127.0.0.1:<port>/<database>: no password in it. */
  readonly url: string;
  readonly role: string;
  readonly password: string;
  /** The folder of its Unix socket (postgres://role@/db?host=<it>&port=<port>). */
  readonly socketDir: string;
}

/** Starts the server; creates `role` (LOGIN, `password`) and a database it owns, of the same name. */
export async function passwordPostgres(release: Release, role: string, password: string): Promise<PasswordServer> {
  const bin = await binDir();
  const dir = await mkdtemp(join(tmpdir(), 'driftline-pg-'));
  release('the private PostgreSQL folder', () => rm(dir, { recursive: true, force: true }));
  const asRoot = process.getuid?.() === 0;
  let as: string[] = [];
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
    as = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'];
  }
  const superPassword = `super-${password}`;
  const pwfile = join(dir, 'superuser-password');
  await writeFile(pwfile, superPassword, { mode: 0o600 });
  if (asRoot) await run('chown', ['postgres:postgres', pwfile]);
  const data = join(dir, 'data');
  const cmd = (program: string, args: string[]): [string, string[]] => (asRoot ? [as[0]!, [...as.slice(1), join(bin, program), ...args]] : [join(bin, program), args]);
  await run(...cmd('initdb', ['-D', data, '-A', 'scram-sha-256', '-U', 'postgres', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync', '--no-instructions']));

  const port = await onFreePort('the private PostgreSQL', async (p) => {
    const child = spawn(...cmd('postgres', ['-D', data, '-p', String(p), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']), { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        log = (log + d.toString()).slice(-4000);
        if (/ready to accept connections/.test(log)) resolve();
      });
      void exited.then(() => reject(new Error(`the private PostgreSQL exited as it started: ${log}`)));
    });
    const stop = async (): Promise<void> => stopServer(child, exited);
    try {
      await ready;
    } catch (e) {
      await stop();
      throw e;
    }
    release('the private PostgreSQL', stop);
    return p;
  });

  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: superPassword, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
    await admin.query(`CREATE DATABASE ${role} OWNER ${role}`);
  } finally {
    await admin.end();
  }
  return { url: `postgres://${role}@127.0.0.1:${port}/${role}`, role, password, socketDir: dir };
}

/** Fast shutdown (SIGINT: sessions ended, no waiting for clients), then SIGKILL after 10 s. */
async function stopServer(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(kill);
}
