/** `driftline baseline`: build the reference profile of a model on its training or commissioning images. */
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { calibrate, DEFAULT_CALIBRATION_WINDOWS, DEFAULT_REPLICATES } from '../agent/drift/calibrate.js';
import { pointOptions, ProfileBuilder, profilePathFor } from '../agent/drift/profile.js';
import type { OperatingPoint } from '../agent/drift/types.js';
import { Detector } from '../agent/infer/detector.js';
import { loadModel } from '../agent/infer/model.js';
import { MAX_FIT_SAMPLES, OodReferenceBuilder } from '../agent/ood/reference-builder.js';
import { decodeImage, RESIZE_MODES, type RawFrame, type ResizeMode } from '../agent/preprocess/letterbox.js';
import { listImages } from '../agent/source/image-dir.js';
import { LineCamera } from '../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../agent/synth/conditions.js';
import { runSequence } from '../agent/pipeline/sequence.js';
import { driftlineError, isDriftlineError } from '../lib/errors.js';
import { classThresholdsFlag, intFlag, numberFlag, parse, progress, providersFlag, sizeFlag } from './args.js';

/** A detection-level OOD reference is fitted only on at least this many kept detections per feature. */
export const MIN_OOD_SAMPLES_PER_FEATURE = 5;

export const summary = 'build the reference profile of the training distribution (per-feature bins, class mix, confidence)';

export const usage = `driftline baseline --model M.onnx (--data DIR | --synthetic FRAMES) [options]

Runs the model and the per-frame statistics over training or commissioning images and writes the
reference profile that drift is measured against: per-feature quantile bins with under- and
overflow, class mix, per-class confidence histograms, sample counts, the model's sha256 and the
data's provenance. It then calibrates the drift thresholds: for each score and a ladder of window
lengths it bootstraps the no-drift distribution from these frames, in order, in blocks longer than
their correlation time. Give it frames in capture order (a commissioning recording of the camera)
so the calibration sees how much consecutive frames repeat each other; see docs/drift.md.

When the model has an embedding output (embed0, \`driftline detect --info\` says "ood": "embedding"),
it also fits the detection-level out-of-distribution reference (given at least 5 kept detections per
feature, 560 for the shipped model) on every kept detection of these
frames (the model's features at the detection's anchor and the box's colour statistics), stores it
as the profile's detectionOod, and counts each frame's detections over its 99th percentile as the
oodDetections feature. Other models get no detectionOod, and oodDetections is 0 in every frame.

Options:
  --model FILE     ONNX detector (required)
  --data DIR       a YOLO dataset (images/train is used) or a folder of images, taken in name order
  --synthetic N    instead of --data: N consecutive frames of the synthetic line camera under
                   nominal conditions (the shipped model's commissioning run)
  --seed S         synthetic camera seed (default 1)
  --cameras K      synthetic: K cameras of the line (seeds S, S+1, …), N/K consecutive frames each
                   (default 1). Calibration then draws each no-drift window from one camera and
                   scores it against the others: thresholds that hold for a camera not in the profile
  --size WxH       synthetic frame size (default 320x240)
  --out FILE       profile path (default: next to the model, <model>.profile.json)
  --windows LIST   window lengths in frames to calibrate (default ${DEFAULT_CALIBRATION_WINDOWS.join(',')}, those the
                   reference can hold: up to half its shortest run of video, or its size for still
                   images, plus that longest length itself where the list stops well short of it)
  --replicates N   bootstrap windows per length (default ${DEFAULT_REPLICATES})
  --bins N         quantile bins per feature (default 16)
  --conf F         operating threshold for the class mix (default 0.25)
  --class-conf LIST  per-class thresholds, class=t,... (the agent's model.classConf)
  --agnostic       class-agnostic suppression (model.agnosticNms); --agnostic-iou F (default 0.7)
                   and --class-priority LIST as model.agnosticIou and model.classPriority. The
                   profile records this operating point; an agent running at another one warns
  --floor F        candidates above this feed the confidence histograms (default 0.05)
  --describe TEXT  how the data was collected or made, recorded in the profile's provenance
  --providers LIST execution providers to try in order, or auto (default: what this platform has, best first)
  --resize MODE    letterbox resampling, as the agent's model.resize: auto (default), bilinear,
                   area or sharp; recorded in the profile, and an agent configured otherwise warns
                   at start
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
    synthetic: { type: 'string' },
    seed: { type: 'string' },
    cameras: { type: 'string' },
    size: { type: 'string' },
    windows: { type: 'string' },
    replicates: { type: 'string' },
    resize: { type: 'string' },
    'class-conf': { type: 'string' },
    agnostic: { type: 'boolean' },
    'agnostic-iou': { type: 'string' },
    'class-priority': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (typeof values.model !== 'string') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--model FILE is required' });
  const synthetic = values.synthetic === undefined ? 0 : intFlag('synthetic', values.synthetic, 0, 1);
  if ((typeof values.data === 'string') === synthetic > 0) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: 'give one of --data DIR or --synthetic FRAMES' });
  if (typeof values.data === 'string' && !existsSync(values.data)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--data ${values.data} does not exist` });
  // Sorted and without repeats: the profile's calibration lists window lengths in increasing order.
  const bins = intFlag('bins', values.bins, 16, 2);
  const windows = typeof values.windows === 'string' ? [...new Set(values.windows.split(',').map((w) => intFlag('windows', w, 0, 2)))].sort((a, b) => a - b) : undefined;
  const replicates = intFlag('replicates', values.replicates, DEFAULT_REPLICATES, 20);
  const resize = typeof values.resize === 'string' ? values.resize : 'auto';
  if (!(RESIZE_MODES as readonly string[]).includes(resize)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--resize ${resize}: expected one of ${RESIZE_MODES.join(', ')}` });
  const model = await loadModel(values.model, { providers: providersFlag(values.providers), intraOpThreads: 1 });
  const embedding = model.embedding;
  const operatingPoint: OperatingPoint = {
    conf: numberFlag('conf', values.conf, 0.25, 0, 1),
    classConf: classThresholdsFlag('class-conf', values['class-conf'], model.names) ?? {},
    agnostic: values.agnostic === true,
    agnosticIou: numberFlag('agnostic-iou', values['agnostic-iou'], 0.7, 0, 1),
    classPriority: typeof values['class-priority'] === 'string' ? values['class-priority'].split(',').map((s) => s.trim()).filter(Boolean) : [],
  };
  const detector = await Detector.open(model, {
    ...pointOptions(operatingPoint),
    candidateFloor: numberFlag('floor', values.floor, 0.05, 0, 1),
    embedding: embedding !== undefined,
    resize: resize as ResizeMode,
  });
  const builder = new ProfileBuilder(model.names);
  // Detection-level OOD: the features of every kept detection, fitted once every frame is in.
  const ood = embedding ? new OodReferenceBuilder({ embeddingDim: embedding.dim, appearance: true }, model.names.length, embedding.anchors, model.inputW, model.inputH) : undefined;
  const report = progress('baseline');
  let skipped = 0;
  let source: string;
  let total: number;
  let frames: AsyncIterable<RawFrame>;
  /** Frame index at which each run after the first starts. */
  const runStarts = new Set<number>();
  let geometry: { width: number; height: number } | undefined;
  if (synthetic > 0) {
    const seed = intFlag('seed', values.seed, 1);
    const cameras = intFlag('cameras', values.cameras, 1, 1);
    if (cameras > synthetic) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--cameras ${cameras} is more than --synthetic ${synthetic} frames` });
    const [width, height] = sizeFlag('size', values.size, [320, 240]);
    geometry = { width, height };
    const per = Math.floor(synthetic / cameras);
    for (let c = 1; c < cameras; c++) runStarts.add(c * per);
    frames = (async function* () {
      let camera = new LineCamera(width, height, seed);
      for (let i = 0; i < synthetic; i++) {
        if (runStarts.has(i)) camera = new LineCamera(width, height, seed + i / per);
        yield { ...camera.next(DEFAULT_CONDITIONS), channels: 3 } as RawFrame;
        if (i % 100 === 99 || i === synthetic - 1) report(i + 1, synthetic);
      }
    })();
    source =
      cameras === 1
        ? `synthetic line camera, seed ${seed}, ${width}x${height}, nominal conditions`
        : `synthetic line, ${cameras} cameras (seeds ${seed}-${seed + cameras - 1}), ${per} consecutive frames each, ${width}x${height}, nominal conditions`;
    total = synthetic;
  } else {
    const dir = values.data as string;
    const files = await datasetImages(dir);
    if (files.length === 0) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `no images found in ${dir}` });
    frames = (async function* () {
      for (let i = 0; i < files.length; i++) {
        try {
          yield await decodeImage(files[i]!);
        } catch (e) {
          if (!isDriftlineError(e)) throw e;
          skipped++;
          process.stderr.write(`driftline: skipped ${files[i]}: ${e.code}: ${e.message}\n`);
        }
        if (i % 10 === 9 || i === files.length - 1) report(i + 1, files.length);
      }
    })();
    source = relativeIfInside(resolve(dir));
    total = files.length;
  }
  try {
    await runSequence(detector, frames, (t) => {
      if (runStarts.has(t.index)) builder.startRun();
      builder.add(t);
      const sl = t.slot;
      ood?.add({ count: sl.detections.count, classes: sl.detections.classes, anchors: sl.detections.anchors, inputBoxes: sl.inputBoxes, embed: sl.embed, input: sl.input });
    });
  } finally {
    await detector.close();
  }
  if (builder.series().frames < 2) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: 'fewer than 2 usable images: nothing to profile' });
  let detectionOod;
  if (ood && ood.samples < MIN_OOD_SAMPLES_PER_FEATURE * ood.dim) {
    // A shared covariance of D features from a few hundred detections is mostly noise, and the 99th
    // percentile of the fitted detections' own scores sits far below a new detection's: every live
    // frame would look out of distribution. No reference, then: oodDetections stays 0.
    process.stderr.write(
      `ood: ${ood.samples} kept detections are too few to fit a detection-level reference of ${ood.dim} features (it needs ${MIN_OOD_SAMPLES_PER_FEATURE * ood.dim}); the profile scores no detection: profile more frames for it\n`,
    );
  } else if (ood) {
    process.stderr.write(`ood: fitting the detection-level reference on ${Math.min(ood.samples, MAX_FIT_SAMPLES)} of ${ood.samples} detections (${ood.dim} features)\n`);
    const fitted = ood.finish(undefined, progress('ood'));
    builder.setFeature('oodDetections', fitted.oodDetections);
    detectionOod = fitted.reference;
  }
  const built = builder.build(
    { file: relativeIfInside(resolve(values.model)), sha256: model.sha256, names: model.names },
    {
      source,
      ...(typeof values.describe === 'string' ? { description: values.describe } : {}),
      images: total - skipped,
      skipped,
      ...(runStarts.size > 0 ? { runs: runStarts.size + 1 } : {}),
      ...(geometry ?? {}),
      resize: resize as ResizeMode,
      operatingPoint,
    },
    bins,
  );
  const calibration = calibrate(built, builder.series(), { windows, replicates, bins, progress: progress('calibrate') });
  const profile = { ...built, calibration, ...(detectionOod ? { detectionOod } : {}) };
  const out = typeof values.out === 'string' ? values.out : profilePathFor(values.model);
  await writeFile(out, JSON.stringify(profile, null, 1) + '\n');
  process.stdout.write(
    JSON.stringify({ out, frames: profile.frames, skipped, sha256: model.sha256, blockFrames: calibration.blockFrames, windows: calibration.windows.map((w) => w.frames), ood: detectionOod ? 'embedding' : 'confidence' }) + '\n',
  );
  return 0;
}
