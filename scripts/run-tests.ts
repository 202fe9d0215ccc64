/**
 * `npm test`: the node:test run that cannot hang. It checks the machine first (scripts/preflight.ts)
 * and fails in seconds when a package is missing. Then it runs the test files with a timeout, in a
 * process group of their own, under a bound for the whole run. (Node 20 applies --test-timeout to
 * each test file's process as a whole, and so to every test in it: the longest file runs ~150 s alone, longer beside another.) When the run ends,
 * normally or at the bound, every process still left in that group (a source's ffmpeg, a broker, a
 * browser that a failing test did not release) is listed and killed, so CI never waits on a stray.
 *
 * Usage: npm test [-- [node --test flags] [test files…]]
 *   With no files, every test/**\/*.test.ts runs but the fault-injection suite (test/faults: npm run
 *   test:faults); a folder stands for the test files under it.
 * Environment:
 *   DRIFTLINE_TEST_BUDGET_S   bound for the whole run, seconds (default 1200: a full run took 580 s on a 2-core AMD EPYC VM on 2026-12-02)
 *   DRIFTLINE_TEST_TIMEOUT_S  bound for one test file and each test in it, seconds (default 480:
 *                             3 x the longest file, camera-drift.test.ts at ~150 s alone)
 *   DRIFTLINE_TEST_SKIP_PREFLIGHT=1  skip the machine check (for a run of pure unit tests)
 *   DRIFTLINE_TEST_FORCE_EXIT=0      let a test file's process live on while a test holds something
 *                                    open (--test-force-exit is on by default: a leak cannot hang the run)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
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

/** Suites of their own, run by name (npm run test:faults), not as part of every `npm test`. */
const SEPARATE = new Set([join(ROOT, 'test', 'faults')]);

function testFiles(dir: string, top = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && SEPARATE.has(p) && p !== top) continue;
    if (e.isDirectory()) out.push(...testFiles(p, top));
    else if (e.name.endsWith('.test.ts')) out.push(relative(ROOT, p));
  }
  return out.sort();
}

/**
 * Every live process of the run: in its process group, or carrying its mark in the environment
 * (which children inherit: a browser that playwright starts in a group of its own still has it).
 * Zombies have exited already and only wait to be reaped; they are not counted.
 */
function leftovers(pgid: number, mark: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const ours = Number(group) === pgid || readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`DRIFTLINE_TEST_RUN=${mark}`);
      if (ours) found.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 160) });
    } catch {
      // gone meanwhile, or another user's
    }
  }
  return found;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const budgetS = seconds('DRIFTLINE_TEST_BUDGET_S', 1200);
  const perTestS = seconds('DRIFTLINE_TEST_TIMEOUT_S', 480);
  if (process.env.DRIFTLINE_TEST_SKIP_PREFLIGHT !== '1') {
    const r = await preflight();
    if (r.missing.length || !r.brokerUp) {
      process.stderr.write(explain(r));
      return 1;
    }
  }
  const { flags, files } = splitArgs(args);
  const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${perTestS * 1000}`, ...(process.env.DRIFTLINE_TEST_FORCE_EXIT === '0' ? [] : ['--test-force-exit']), ...flags, ...(files.length ? files : ['test']).flatMap((f) => (statSync(join(ROOT, f), { throwIfNoEntry: false })?.isDirectory() ? testFiles(join(ROOT, f)) : [f]))];
  const started = Date.now();
  // detached: the run gets a process group of its own, which this runner can sweep at the end.
  const mark = randomUUID();
  const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: 'inherit', detached: true, env: { ...process.env, DRIFTLINE_TEST_RUN: mark } });
  const pgid = child.pid!;
  let overBudget = false;
  const bound = setTimeout(() => {
    overBudget = true;
    process.stderr.write(`\nnpm test: the run passed its bound of ${budgetS} s (DRIFTLINE_TEST_BUDGET_S); stopping it\n`);
    kill(-pgid, 'SIGTERM');
    setTimeout(() => kill(-pgid, 'SIGKILL'), 5000).unref();
  }, budgetS * 1000);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => kill(-pgid, sig));
  const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  clearTimeout(bound);
  const left = leftovers(pgid, mark);
  if (left.length) {
    process.stderr.write(`npm test: ${left.length} process(es) outlived their tests and were killed (a test did not release them):\n${left.map((l) => `  ${l.pid} ${l.cmd}`).join('\n')}\n`);
    for (const l of left) kill(l.pid, 'SIGKILL');
  }
  kill(-pgid, 'SIGKILL'); // whatever the listing could not see
  const took = ((Date.now() - started) / 1000).toFixed(0);
  process.stderr.write(`npm test: ${overBudget ? 'stopped at the bound' : code === 0 ? 'passed' : 'failed'} in ${took} s\n`);
  if (overBudget) return 124;
  return code === 0 && left.length ? 1 : code;
}

/** node --test flags that take a value, as `--flag value` or `--flag=value`. */
const VALUE_FLAGS = new Set(['--test-name-pattern', '--test-skip-pattern', '--test-reporter', '--test-reporter-destination', '--test-concurrency', '--test-shard']);

/** Splits the arguments into node --test flags (with their values) and test files. */
function splitArgs(args: readonly string[]): { flags: string[]; files: string[] } {
  const flags: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) files.push(a);
    else if (VALUE_FLAGS.has(a) && i + 1 < args.length) flags.push(`${a}=${args[++i]}`);
    else flags.push(a);
  }
  return { flags, files };
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`npm test: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
