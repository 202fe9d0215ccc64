/** `driftline drift A.json B.json`: compare two reference profiles feature by feature. */
import { readFile } from 'node:fs/promises';
import { compareProfiles } from '../agent/drift/compare.js';
import { PROFILE_SCHEMA, type Profile } from '../agent/drift/profile.js';
import { driftlineError } from '../lib/errors.js';
import { parse } from './args.js';

export const summary = 'compare two reference profiles (e.g. training against last week) feature by feature';

export const usage = `driftline drift A.json B.json [--json]

Compares profile B (say, last week's capture folder) against profile A (say, the training data),
both made with 'driftline baseline'. For every feature it prints PSI, Jensen-Shannon distance, the
KS statistic and Wasserstein-1 divided by A's standard deviation, most drifted first. The marks use
the fixed PSI cut-offs of tabular tools (0.1 warn, 0.25 alert); see docs/drift.md.

Options:
  --json   print the rows as JSON instead of a table
`;

async function readProfile(file: string): Promise<Profile> {
  let p: unknown;
  try {
    p = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: (e as Error).message.split('\n')[0] }, { cause: e });
  }
  const schema = (p as { schema?: unknown } | null)?.schema;
  if (schema !== PROFILE_SCHEMA || typeof (p as Profile).features !== 'object') {
    throw driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: `schema is ${JSON.stringify(schema)}, expected ${PROFILE_SCHEMA}` });
  }
  return p as Profile;
}

const f3 = (v: number): string => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (positionals.length !== 2) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: 'give two profiles: A.json B.json' });
  const [a, b] = await Promise.all(positionals.map(readProfile)) as [Profile, Profile];
  const rows = compareProfiles(a, b);
  if (values.json) {
    process.stdout.write(JSON.stringify({ a: positionals[0], b: positionals[1], sameModel: a.model.sha256 === b.model.sha256, rows }) + '\n');
    return 0;
  }
  const out = process.stdout;
  out.write(`A: ${positionals[0]} (${a.frames} frames, ${a.data.source})\nB: ${positionals[1]} (${b.frames} frames, ${b.data.source})\n`);
  if (a.model.sha256 !== b.model.sha256) out.write('note: the profiles come from different models; detection features are not comparable\n');
  out.write(`\n${'feature'.padEnd(18)} ${'mean A'.padStart(9)} ${'mean B'.padStart(9)} ${'PSI'.padStart(8)} ${'JS'.padStart(6)} ${'KS'.padStart(6)} ${'W1/sd'.padStart(8)}\n`);
  for (const r of rows) {
    const mark = r.psi >= 0.25 ? '  alert' : r.psi >= 0.1 ? '  warn' : '';
    out.write(`${r.feature.padEnd(18)} ${r.meanA.toPrecision(4).padStart(9)} ${r.meanB.toPrecision(4).padStart(9)} ${f3(r.psi).padStart(8)} ${f3(r.js).padStart(6)} ${f3(r.ks).padStart(6)} ${f3(r.w1).padStart(8)}${mark}\n`);
  }
  return 0;
}
