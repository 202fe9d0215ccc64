/**
 * `npm run bench`: every benchmark, each printing its figures and a ratio against a baseline
 * measured in the same run. `npm run bench -- synth` runs one; `--seconds N` scales the time.
 */
import { parseArgs } from 'node:util';
import os from 'node:os';

const BENCHES: Record<string, () => Promise<{ bench(seconds: number): Promise<void> }>> = {
  synth: () => import('./synth.bench.js'),
  detect: () => import('./detect.bench.js'),
  pipeline: () => import('./pipeline.bench.js'),
  drift: () => import('./drift.bench.js'),
  collector: () => import('./collector.bench.js'),
  'collector-cluster': () => import('./collector-cluster.bench.js'),
  readiness: () => import('./readiness.bench.js'),
  'metrics-scrape': () => import('./metrics-scrape.bench.js'),
  page: () => import('./page.bench.js'),
  'agent-cpu': () => import('./agent-cpu.bench.js'),
};

const { values, positionals } = parseArgs({ options: { seconds: { type: 'string' } }, allowPositionals: true });
const seconds = Number(values.seconds ?? 10);
const names = positionals.length ? positionals : Object.keys(BENCHES);
process.stdout.write(`Driftline benchmarks: node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${seconds}s budget each\n`);
for (const name of names) {
  const load = BENCHES[name];
  if (!load) {
    process.stderr.write(`unknown benchmark ${name}; have ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  await (await load()).bench(seconds);
}
