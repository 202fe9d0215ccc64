/** `driftline review export`: the agent's review frames as a YOLO dataset for labelling. */
import { existsSync } from 'node:fs';
import { exportYolo } from '../agent/review/export.js';
import { reviewDirFor } from '../agent/review/sampler.js';
import { openDatabase } from '../agent/store/database.js';
import { driftlineError } from '../lib/errors.js';
import { parse } from './args.js';

export const summary = 'export the frames saved for human review as a YOLO dataset for labelling';

export const usage = `driftline review export --store DB --out DIR [options]

Writes the review frames the agent saved (uncertain detections, inputs outside the reference) as a
YOLO dataset: images/, labels/ with the model's detections as pre-labels, data.yaml and
manifest.jsonl (camera, time, why the frame was kept, its statistics).

Options:
  --store FILE   the agent's database (store.path)
  --dir DIR      the review folder (default: <store>.review beside the database)
  --out DIR      where the dataset goes (required)
  --since ISO    only frames captured at or after this time
  --names LIST   class names, comma-separated (default: the shipped model's)
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { store: { type: 'string' }, dir: { type: 'string' }, out: { type: 'string' }, since: { type: 'string' }, names: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (positionals[0] !== 'export') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `unknown review action ${JSON.stringify(positionals[0] ?? '')}; try: driftline review export` });
  if (typeof values.store !== 'string' || !existsSync(values.store)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--store must name an existing agent database' });
  if (typeof values.out !== 'string') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--out DIR is required' });
  const since = typeof values.since === 'string' ? Date.parse(values.since) : 0;
  if (Number.isNaN(since)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--since must be an ISO time, got ${String(values.since)}` });
  const names = typeof values.names === 'string' ? values.names.split(',') : ['washer', 'bracket', 'scratch', 'missing_notch'];
  const dir = typeof values.dir === 'string' ? values.dir : reviewDirFor(values.store);
  const db = openDatabase(values.store);
  try {
    const r = await exportYolo(db, dir, values.out, names, since);
    process.stdout.write(JSON.stringify({ out: values.out, ...r }) + '\n');
  } finally {
    db.close();
  }
  return 0;
}
