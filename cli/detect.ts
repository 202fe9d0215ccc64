/** `driftline detect`: run a detector over image files and print detections as JSON lines. */
import { isDriftlineError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { LAYOUTS, type Layout } from '../agent/decode/decoders.js';
import { Detector } from '../agent/infer/detector.js';
import { loadModel } from '../agent/infer/model.js';
import { decodeImage } from '../agent/preprocess/letterbox.js';
import { driftlineError } from '../lib/errors.js';
import { intFlag, numberFlag, parse, providersFlag } from './args.js';

export const summary = 'run a detector over images and print detections as JSON lines';

export const usage = `driftline detect --model M.onnx [options] IMAGE...

Loads an ONNX detector (YOLOv5, YOLOv8/YOLO11 or end-to-end layout, chosen from its output shape
and metadata) and prints one JSON line per image: {"image", "width", "height", "detections": [...]}.
Box coordinates are x1, y1, x2, y2 in the image's own pixels.

Options:
  --model FILE          ONNX model (required)
  --conf F              confidence threshold (default 0.25)
  --iou F               NMS IoU threshold (default 0.45)
  --max-det N           maximum detections per image (default 300)
  --class-conf N=F,...  per-class thresholds by class name, e.g. scratch=0.4,burn=0.5
  --providers LIST      execution providers to try in order, or auto (default: what this platform has, best first)
  --threads N           intra-op threads (default 0: one per core)
  --layout L            force the output layout: ${LAYOUTS.join(', ')}
  --info                print the model's details and exit, with the OOD mode that applies:
                        "embedding" (detection-level, on the model's embed0 output of D features
                        per anchor) or "confidence" (models without one: frame-level scores)
  -v, --verbose         log model loading to stderr

Exit status: 0 when every image was processed; 1 when the model or any image failed (each failure
is printed to stderr with its DRIFTLINE_ERR_* code); 2 for usage errors.
`;

function parseClassConf(raw: string | undefined): Record<string, number> | undefined {
  if (raw === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of raw.split(',')) {
    const [name, v] = part.split('=');
    const n = Number(v);
    if (!name || v === undefined || !Number.isFinite(n) || n < 0 || n > 1) {
      throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--class-conf expects NAME=F pairs with F in [0, 1], got ${JSON.stringify(part)}` });
    }
    out[name.trim()] = n;
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      model: { type: 'string' },
      conf: { type: 'string' },
      iou: { type: 'string' },
      'max-det': { type: 'string' },
      'class-conf': { type: 'string' },
      providers: { type: 'string' },
      threads: { type: 'string' },
      layout: { type: 'string' },
      info: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (typeof values.model !== 'string') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--model FILE is required' });
  if (!values.info && positionals.length === 0) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: 'give at least one IMAGE' });
  const layout = values.layout as string | undefined;
  if (layout !== undefined && !(LAYOUTS as readonly string[]).includes(layout)) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--layout must be one of ${LAYOUTS.join(', ')}, got ${layout}` });
  }
  const log = createLogger('detect', values.verbose ? 'info' : 'error');
  const model = await loadModel(values.model, {
    providers: providersFlag(values.providers),
    intraOpThreads: intFlag('threads', values.threads, 0),
    ...(layout ? { layout: layout as Layout } : {}),
    log,
  });
  if (values.info) {
    // modelBytes is the whole file (for the worker thread's session): not information to print.
    const { session: _s, modelBytes: _b, decoder, header, embedding, ...rest } = model;
    // Which out-of-distribution scoring the agent can apply: per detection on the model's own
    // features (embedding), or the frame-level, confidence-based scores every detector gets.
    const ood = embedding ? { mode: 'embedding', output: embedding.output, dim: embedding.dim, anchors: embedding.anchors } : { mode: 'confidence' };
    process.stdout.write(JSON.stringify({ ...rest, layout: decoder.layout, numClasses: decoder.numClasses, anchors: decoder.anchors, ood, metadata: header.metadata, opsets: header.opsets }, null, 2) + '\n');
    return 0;
  }
  const classConf = parseClassConf(values['class-conf'] as string | undefined);
  const detector = new Detector(model, {
    conf: numberFlag('conf', values.conf, 0.25, 0, 1),
    iou: numberFlag('iou', values.iou, 0.45, 0, 1),
    maxDet: intFlag('max-det', values['max-det'], 300, 1),
    ...(classConf ? { classConf } : {}),
    slots: 1,
  });
  let failures = 0;
  for (const image of positionals) {
    try {
      const frame = await decodeImage(image);
      const slot = await detector.detect(frame);
      process.stdout.write(
        JSON.stringify({
          image,
          width: frame.width,
          height: frame.height,
          detections: detector.toObjects(slot),
          ms: { preprocess: +slot.times.preprocessMs.toFixed(2), inference: +slot.times.inferenceMs.toFixed(2), postprocess: +slot.times.postprocessMs.toFixed(2) },
        }) + '\n',
      );
    } catch (e) {
      if (!isDriftlineError(e)) throw e;
      failures++;
      process.stderr.write(`driftline: ${e.code}: ${e.message}\n`);
    }
  }
  return failures > 0 ? 1 : 0;
}
