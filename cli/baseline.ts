/** `driftline baseline`: build the reference profile of a model on its training or commissioning images. */
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ProfileBuilder } from '../agent/drift/profile.js';
import { Detector } from '../agent/infer/detector.js';
import { loadModel } from '../agent/infer/model.js';
import { decodeImage } from '../agent/preprocess/letterbox.js';
import { listImages } from '../agent/source/image-dir.js';
import { DetectionStats } from '../agent/telemetry/detection-stats.js';
import { FrameStats } from '../agent/telemetry/frame-stats.js';
import { driftlineError, isDriftlineError } from '../lib/errors.js';
import { intFlag, numberFlag, parse, progress, providersFlag } from './args.js';

export const summary = 'build the reference profile of the training distribution (per-feature bins, class mix, confidence)';

export const usage = `driftline baseline --model M.onnx --data DIR [options]

Runs the model and the per-frame statistics over training or commissioning images and writes the
reference profile that drift is measured against: per-feature quantile bins with under- and
overflow, class mix, per-class confidence histograms, sample counts, the model's sha256 and the
data's provenance.

Options:
  --model FILE     ONNX detector (required)
  --data DIR       a YOLO dataset (images/train is used) or a folder of images (required)
  --out FILE       profile path (default: next to the model, <model>.profile.json)
  --bins N         quantile bins per feature (default 16)
  --conf F         operating threshold for the class mix (default 0.25)
  --floor F        candidates above this feed the confidence histograms (default 0.05)
  --describe TEXT  how the data was collected or made, recorded in the profile's provenance
  --providers LIST execution providers (default tensorrt,cuda,cpu)
`;

/** The images of a dataset folder: images/train of a YOLO dataset, else every image in the folder. */
export async function datasetImages(dir: string): Promise<string[]> {
  for (const sub of [join(dir, 'images', 'train'), join(dir, 'images')]) {
    if (existsSync(sub) && statSync(sub).isDirectory()) {
      const files = await listImages(sub);
      if (files.length) return files;
    }
  }
  return listImages(dir);
}

/** Paths under the working directory are recorded relative to it, so a committed profile carries no machine's paths. */
function relativeIfInside(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    bins: { type: 'string' },
    conf: { type: 'string' },
    floor: { type: 'string' },
    describe: { type: 'string' },
    providers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (typeof values.model !== 'string') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--model FILE is required' });
  if (typeof values.data !== 'string') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--data DIR is required' });
  if (!existsSync(values.data)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--data ${values.data} does not exist` });
  const model = await loadModel(values.model, {
    providers: providersFlag(values.providers),
  });
  const detector = new Detector(model, { conf: numberFlag('conf', values.conf, 0.25, 0, 1), candidateFloor: numberFlag('floor', values.floor, 0.05, 0, 1), slots: 1 });
  const files = await datasetImages(values.data);
  if (files.length === 0) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `no images found in ${values.data}` });
  const builder = new ProfileBuilder(model.names);
  const fs = new FrameStats();
  const ds = new DetectionStats(model.names.length);
  const report = progress('baseline');
  let skipped = 0;
  for (let i = 0; i < files.length; i++) {
    try {
      const frame = await decodeImage(files[i]!);
      const slot = await detector.detect(frame);
      const f = fs.compute(frame.data, frame.width, frame.height);
      const d = ds.compute(slot.candidates, slot.detections, frame.width, frame.height);
      builder.add(f, d, ds.classCounts, ds.confHist);
    } catch (e) {
      if (!isDriftlineError(e)) throw e;
      skipped++;
      process.stderr.write(`driftline: skipped ${files[i]}: ${e.code}: ${e.message}\n`);
    }
    if (i % 10 === 9 || i === files.length - 1) report(i + 1, files.length);
  }
  const profile = builder.build(
    { file: relativeIfInside(resolve(values.model)), sha256: model.sha256, names: model.names },
    {
      source: relativeIfInside(resolve(values.data)),
      ...(typeof values.describe === 'string' ? { description: values.describe } : {}),
      images: files.length - skipped,
      skipped,
    },
    intFlag('bins', values.bins, 16, 2),
  );
  const out = typeof values.out === 'string' ? values.out : values.model.replace(/\.onnx$/i, '') + '.profile.json';
  await writeFile(out, JSON.stringify(profile, null, 1) + '\n');
  process.stdout.write(JSON.stringify({ out, frames: profile.frames, skipped, sha256: model.sha256 }) + '\n');
  return 0;
}
