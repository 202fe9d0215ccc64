/**
 * What the test suite needs from the machine, checked in seconds before any test starts: each
 * system package in .ci/packages.txt (by the program it installs), the shared Mosquitto on
 * 127.0.0.1:1883 and PostgreSQL where DRIFTLINE_TEST_PG_URL points (default 127.0.0.1:5432). A missing piece is named with the package that brings it and the one command
 * that installs everything, instead of a test that hangs or times out minutes later.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter } from 'node:path';
import { findProgram } from '../lib/program.js';

export interface Requirement {
  readonly pkg: string;
  /** A program on PATH, `gst:<element>` for a GStreamer element, or undefined (nothing to probe). */
  readonly probe: string | undefined;
  readonly why: string;
}

export const PACKAGES_FILE = new URL('../.ci/packages.txt', import.meta.url);

/** Parses .ci/packages.txt: `package probe why…`, `#` comments, blank lines ignored. */
export function parseRequirements(text: string): Requirement[] {
  const out: Requirement[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [pkg, probe, ...why] = line.split(/\s+/);
    out.push({ pkg: pkg!, probe: probe === undefined || probe === '-' ? undefined : probe, why: why.join(' ') });
  }
  return out;
}

function gstElement(element: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('gst-inspect-1.0', ['--exists', element], { env, timeout: 10_000 }, (e) => resolve(e === null));
  });
}

export function brokerReachable(port = 1883, host = '127.0.0.1', timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export interface PreflightResult {
  readonly missing: readonly Requirement[];
  readonly brokerUp: boolean;
  /** Where the PostgreSQL tests connect (DRIFTLINE_TEST_PG_URL's host and port), and whether it answers. */
  readonly postgres: { readonly at: string; readonly up: boolean };
}

/** The host and port of the PostgreSQL the tests use (test/helpers/postgres.ts). */
export function postgresAddress(env: NodeJS.ProcessEnv): { host: string; port: number } {
  const u = new URL(env.DRIFTLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 5432) };
}

/**
 * PATH plus the sbin folders, where Debian puts daemons (mosquitto is /usr/sbin/mosquitto) and which
 * a normal user's PATH often lacks. Tests that start such a program look it up the same way.
 */
export function searchPath(path: string | undefined): string {
  return [path ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(delimiter);
}

export async function preflight(env: NodeJS.ProcessEnv = process.env): Promise<PreflightResult> {
  const reqs = parseRequirements(readFileSync(PACKAGES_FILE, 'utf8'));
  const missing: Requirement[] = [];
  for (const r of reqs) {
    if (!r.probe) continue;
    const ok = r.probe.startsWith('gst:') ? findProgram('gst-inspect-1.0', env.PATH) !== undefined && (await gstElement(r.probe.slice(4), env)) : findProgram(r.probe, searchPath(env.PATH)) !== undefined;
    if (!ok) missing.push(r);
  }
  const pg = postgresAddress(env);
  return { missing, brokerUp: await brokerReachable(), postgres: { at: `${pg.host}:${pg.port}`, up: await brokerReachable(pg.port, pg.host) } };
}

/** The message for a failed preflight: what is missing, from which package, and the fix. */
export function explain(r: PreflightResult): string {
  const lines: string[] = [];
  if (r.missing.length) {
    lines.push('npm test: the tests need system packages that this machine lacks:');
    for (const m of r.missing) lines.push(`  ${m.pkg.padEnd(26)} (no ${m.probe!.replace(/^gst:/, 'GStreamer element ')}) ${m.why}`);
  }
  if (!r.brokerUp) lines.push('npm test: nothing listens on 127.0.0.1:1883, where the tests expect the machine\'s Mosquitto broker.');
  if (!r.postgres.up) lines.push(`npm test: nothing listens on ${r.postgres.at}, where the tests expect PostgreSQL (DRIFTLINE_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres).`);
  lines.push('Run ./scripts/test.sh: it installs what is missing (as root or with sudo), starts Mosquitto and PostgreSQL, and runs the tests.');
  if (r.missing.length) lines.push(`Or install them yourself: sudo apt-get install -y --no-install-recommends ${r.missing.map((m) => m.pkg).join(' ')}`);
  return lines.join('\n') + '\n';
}
