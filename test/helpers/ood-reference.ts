/**
 * A detection-level OOD reference fitted in a test, the way `driftline baseline` fits one: the real
 * model over rendered stills of the nominal line (stills: independent scenes, so a few hundred
 * frames see many parts), every kept detection's features, agent/ood/reference-builder.ts.
 */
import { Detector } from '../../agent/infer/detector.js';
import type { LoadedModel } from '../../agent/infer/model.js';
import type { DetectionOodReference } from '../../agent/ood/detection-ood.js';
import { OodReferenceBuilder } from '../../agent/ood/reference-builder.js';
import type { RawFrame } from '../../agent/preprocess/letterbox.js';
import { LineCamera } from '../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../agent/synth/conditions.js';

export async function lineOodReference(model: LoadedModel, frames = 160, seed = 20261203): Promise<DetectionOodReference> {
  const e = model.embedding;
  if (!e) throw new Error(`${model.file} has no embedding output`);
  const cam = new LineCamera(320, 240, seed);
  const stills = Array.from({ length: frames }, (): RawFrame => ({ data: Uint8Array.from(cam.still(DEFAULT_CONDITIONS).data), width: 320, height: 240, channels: 3 }));
  const detector = new Detector(model, { embedding: true });
  const builder = new OodReferenceBuilder({ embeddingDim: e.dim, appearance: true }, model.names.length, e.anchors, model.inputW, model.inputH);
  await detector.run(stills, (slot) => builder.add({ ...slot.detections, count: slot.detections.count, inputBoxes: slot.inputBoxes, embed: slot.embed, input: slot.input }));
  return builder.finish().reference;
}
