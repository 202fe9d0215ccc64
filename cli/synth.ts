/** `driftline synth`: render a labelled dataset of the synthetic line. */
import { CONDITION_KEYS, conditionSpec, parseConditionValue, type ConditionValue } from '../agent/synth/conditions.js';
import { writeDataset } from '../agent/synth/dataset.js';
import { intFlag, numberFlag, parse, progress, sizeFlag, type Options } from './args.js';

export const summary = 'render a labelled YOLO dataset of the synthetic factory line';

export const usage = `driftline synth --out DIR [options]

Renders a deterministic, labelled dataset of the synthetic conveyor line: Ultralytics layout
(images/, labels/, data.yaml) plus manifest.jsonl with every image's conditions.

Options:
  --out DIR            output folder (required)
  --count N            number of images (default 1000)
  --seed N             random seed (default 1)
  --size WxH           frame size (default 640x480)
  --val F              fraction of images in the val split (default 0.2)
Conditions (a number, or a range lo:hi sampled per image):
  ${CONDITION_KEYS.map((k) => `--${k}`).join(' ')}
  e.g. --gain 0.6:1.2 --defectRate 0.3 --heldOutRate 0.05
`;

export async function run(argv: string[]): Promise<number> {
  const options: Options = {
    out: { type: 'string' },
    count: { type: 'string' },
    seed: { type: 'string' },
    size: { type: 'string' },
    val: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const k of CONDITION_KEYS) options[k] = { type: 'string' };
  const { values } = parse(argv, options);
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (typeof values.out !== 'string') {
    process.stderr.write(`driftline synth: --out DIR is required\n\n${usage}`);
    return 2;
  }
  const partial: Record<string, ConditionValue> = {};
  for (const k of CONDITION_KEYS) {
    const raw = values[k];
    if (typeof raw === 'string') partial[k] = parseConditionValue(k, raw);
  }
  const [width, height] = sizeFlag('size', values.size, [640, 480]);
  const result = await writeDataset({
    out: values.out,
    count: intFlag('count', values.count, 1000, 1),
    seed: intFlag('seed', values.seed, 1),
    width,
    height,
    valFraction: numberFlag('val', values.val, 0.2, 0, 1),
    conditions: conditionSpec(partial),
    onProgress: progress('synth'),
  });
  process.stdout.write(JSON.stringify({ out: values.out, ...result }) + '\n');
  return 0;
}
