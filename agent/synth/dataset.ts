/**
 * Writes a labelled dataset from the synthetic line: Ultralytics layout (images/{train,val},
 * labels/{train,val}, data.yaml) plus manifest.jsonl, one line per image with the conditions it was
 * rendered under and every object (including held-out defects and their visibility).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { LineCamera } from './camera.js';
import { CLASS_NAMES, HELD_OUT_CLASS_IDS } from './classes.js';
import { sampleConditions, type ConditionSpec, type Conditions } from './conditions.js';
import { deriveSeed, Rng } from './rng.js';
import type { GroundTruth } from './scene.js';

export interface DatasetOptions {
  readonly out: string;
  readonly count: number;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  /** Fraction of images that go to the val split. 0 writes everything to train; 1 to val. */
  readonly valFraction: number;
  readonly conditions: ConditionSpec;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ManifestEntry {
  readonly image: string;
  readonly label: string;
  readonly split: 'train' | 'val';
  readonly index: number;
  /** As rendered; `stainRate` is left out when it is 0, so manifests written before it existed stay byte-identical. */
  readonly conditions: ManifestConditions;
  readonly objects: readonly {
    readonly class: string;
    readonly classId: number;
    readonly kind: string;
    readonly defect: string;
    readonly box: readonly [number, number, number, number];
    readonly visible: number;
  }[];
  /**
   * Regions no labeller could call (scene.ts ambiguousRegions): evaluation ignores detections there
   * and does not ask for them. `object` names a labelled object the region stands for (a
   * missing_notch part with its notch out of view). Absent when there are none.
   */
  readonly ignore?: readonly { readonly box: readonly [number, number, number, number]; readonly reason: string; readonly object?: number }[];
}

export type ManifestConditions = Omit<Conditions, 'stainRate'> & { readonly stainRate?: number };

function manifestConditions(c: Conditions): ManifestConditions {
  if (c.stainRate !== 0) return c;
  const { stainRate: _zero, ...rest } = c;
  return rest;
}

export interface DatasetSummary {
  readonly images: number;
  readonly objects: number;
  readonly perClass: Record<string, number>;
}

function yoloLine(o: GroundTruth, w: number, h: number): string {
  const cx = (o.x1 + o.x2) / 2 / w;
  const cy = (o.y1 + o.y2) / 2 / h;
  return `${o.classId} ${cx.toFixed(6)} ${cy.toFixed(6)} ${((o.x2 - o.x1) / w).toFixed(6)} ${((o.y2 - o.y1) / h).toFixed(6)}`;
}

export function dataYaml(root: string): string {
  return [
    '# Written by `driftline synth`. Ultralytics-compatible.',
    `path: ${root}`,
    'train: images/train',
    'val: images/val',
    `nc: ${CLASS_NAMES.length}`,
    'names:',
    ...CLASS_NAMES.map((n, i) => `  ${i}: ${n}`),
    '# Classes never used for training: the shipped model does not predict them.',
    `held_out: [${HELD_OUT_CLASS_IDS.join(', ')}]`,
    'manifest: manifest.jsonl',
    '',
  ].join('\n');
}

export async function writeDataset(o: DatasetOptions): Promise<DatasetSummary> {
  const root = resolve(o.out);
  for (const split of ['train', 'val']) {
    await mkdir(join(root, 'images', split), { recursive: true });
    await mkdir(join(root, 'labels', split), { recursive: true });
  }
  const camera = new LineCamera(o.width, o.height, o.seed);
  const condRng = new Rng(deriveSeed(o.seed, 0xc0d));
  const manifest: string[] = [];
  const perClass: Record<string, number> = Object.fromEntries(CLASS_NAMES.map((n) => [n, 0]));
  let objects = 0;
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < o.count; i++) {
    const c = sampleConditions(o.conditions, () => condRng.next());
    const frame = camera.still(c);
    const split = deriveSeed(o.seed, i) / 4294967296 < o.valFraction ? 'val' : 'train';
    const name = String(i).padStart(6, '0');
    const image = `images/${split}/${name}.jpg`;
    const label = `labels/${split}/${name}.txt`;
    const pixels = Buffer.from(frame.data);
    pending.push(
      sharp(pixels, { raw: { width: o.width, height: o.height, channels: 3 } })
        .jpeg({ quality: c.jpegQuality, chromaSubsampling: '4:2:0' })
        .toFile(join(root, image)),
      writeFile(join(root, label), frame.objects.map((ob) => yoloLine(ob, o.width, o.height)).join('\n') + (frame.objects.length ? '\n' : '')),
    );
    const entry: ManifestEntry = {
      image,
      label,
      split,
      index: i,
      conditions: manifestConditions(c),
      objects: frame.objects.map((ob) => ({
        class: ob.className,
        classId: ob.classId,
        kind: ob.kind,
        defect: ob.defect,
        box: [+ob.x1.toFixed(2), +ob.y1.toFixed(2), +ob.x2.toFixed(2), +ob.y2.toFixed(2)],
        visible: +ob.visible.toFixed(3),
      })),
    };
    const ambiguous = camera.ambiguous(c);
    if (ambiguous.length) {
      (entry as { ignore?: ManifestEntry['ignore'] }).ignore = ambiguous.map((a) => ({
        box: [+a.x1.toFixed(2), +a.y1.toFixed(2), +a.x2.toFixed(2), +a.y2.toFixed(2)] as const,
        reason: a.reason,
        ...(a.object !== undefined ? { object: a.object } : {}),
      }));
    }
    manifest.push(JSON.stringify(entry));
    for (const ob of frame.objects) perClass[ob.className] = (perClass[ob.className] ?? 0) + 1;
    objects += frame.objects.length;
    if (pending.length >= 16) {
      await Promise.all(pending);
      pending.length = 0;
      o.onProgress?.(i + 1, o.count);
    }
  }
  await Promise.all(pending);
  o.onProgress?.(o.count, o.count);
  await writeFile(join(root, 'manifest.jsonl'), manifest.join('\n') + '\n');
  await writeFile(join(root, 'data.yaml'), dataYaml(root));
  return { images: o.count, objects, perClass };
}
