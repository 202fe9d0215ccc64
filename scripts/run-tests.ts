/**
 * `npm test`: the node:test run that cannot hang. It checks the machine first (scripts/preflight.ts)
 * and fails in seconds when a package is missing. Then it runs the test files with a timeout, in a
 * process group of their own, under a bound for the whole run. (Node 20 applies --test-timeout to
 * each test file's process as a whole, and so to every test in it: the longest file runs ~3 min.) When the run ends,
 * normally or at the bound, every process still left in that group (a source's ffmpeg, a broker, a
 * browser that a failing test did not release) is listed and killed, so CI never waits on a stray.
 *
 * Usage: npm test [-- [node --test flags] [test files…]]
 *   With no files, every test/**\/*.test.ts runs.
 * Environment:
 *   DRIFTLINE_TEST_BUDGET_S   bound for the whole run, seconds (default 900)
 *   DRIFTLINE_TEST_TIMEOUT_S  bound for one test file and each test in it, seconds (default 480:
 *                             3 x the longest file, camera-drift.test.ts at ~150 s alone)
 *   DRIFTLINE_TEST_SKIP_PREFLIGHT=1  skip the machine check (for a run of pure unit tests)
 *   DRIFTLINE_TEST_FORCE_EXIT=0      let a test file's process live on while a test holds something
 *                                    open (--test-force-exit is on by default: a leak cannot hang the run)
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explain, preflight } from './preflight.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function seconds(name: string, def: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? def : Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`npm test: ${name} must be a number of seconds > 0, got ${raw}\n`);
    process.exit(2);
  }
  return n;
}

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith('.test.ts')) out.push(relative(ROOT, p));
  }
  return out.sort();
}

/** `pid command` of every process left in the group, this runner excluded. */
function groupMembers(pgid: number): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/))
      // Z: a zombie has exited already; it only waits for its (re)parent to reap it.
      .filter((m): m is RegExpMatchArray => m !== null && Number(m[2]) === pgid && Number(m[1]) !== process.pid && !m[3]!.startsWith('Z'))
      .map((m) => `${m[1]} ${m[4]!.slice(0, 160)}`);
  } catch {
    return [];
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already empty
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const budgetS = seconds('DRIFTLINE_TEST_BUDGET_S', 900);
  const perTestS = seconds('DRIFTLINE_TEST_TIMEOUT_S', 480);
  if (process.env.DRIFTLINE_TEST_SKIP_PREFLIGHT !== '1') {
    const r = await preflight();
    if (r.missing.length || !r.brokerUp) {
      process.stderr.write(explain(r));
      return 1;
    }
  }
  const flags = args.filter((a) => a.startsWith('-'));
  const files = args.filter((a) => !a.startsWith('-'));
  const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${perTestS * 1000}`, ...(process.env.DRIFTLINE_TEST_FORCE_EXIT === '0' ? [] : ['--test-force-exit']), ...flags, ...(files.length ? files : testFiles(join(ROOT, 'test')))];
  const started = Date.now();
  // detached: the run gets a process group of its own, which this runner can sweep at the end.
  const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: 'inherit', detached: true });
  const pgid = child.pid!;
  let overBudget = false;
  const bound = setTimeout(() => {
    overBudget = true;
    process.stderr.write(`\nnpm test: the run passed its bound of ${budgetS} s (DRIFTLINE_TEST_BUDGET_S); stopping it\n`);
    killGroup(pgid, 'SIGTERM');
    setTimeout(() => killGroup(pgid, 'SIGKILL'), 5000).unref();
  }, budgetS * 1000);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => killGroup(pgid, sig));
  const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  clearTimeout(bound);
  const leftovers = groupMembers(pgid);
  if (leftovers.length) {
    process.stderr.write(`npm test: ${leftovers.length} process(es) outlived their tests and were killed (a test did not release them):\n${leftovers.map((l) => `  ${l}`).join('\n')}\n`);
    killGroup(pgid, 'SIGKILL');
  }
  const took = ((Date.now() - started) / 1000).toFixed(0);
  process.stderr.write(`npm test: ${overBudget ? 'stopped at the bound' : code === 0 ? 'passed' : 'failed'} in ${took} s\n`);
  if (overBudget) return 124;
  return code === 0 && leftovers.length ? 1 : code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`npm test: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
