/**
 * Exports review samples as a YOLO dataset for labelling: images/ (the saved JPEGs), labels/ (one
 * line per detection, `class cx cy w h` normalised to the image, as pre-labels a labeller corrects),
 * data.yaml with the class names, and manifest.jsonl with why each frame was kept and its stats.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../store/database.js';

export interface ExportResult {
  readonly images: number;
  readonly labels: number;
  readonly missing: number;
}

interface Row {
  id: number;
  camera: string;
  ts: number;
  frame: number;
  reason: string;
  file: string;
  width: number;
  height: number;
  detections: string;
  stats: string;
}

export async function exportYolo(db: Db, reviewDir: string, out: string, names: readonly string[], sinceTs = 0): Promise<ExportResult> {
  await mkdir(join(out, 'images'), { recursive: true });
  await mkdir(join(out, 'labels'), { recursive: true });
  const rows = db
    .prepare('SELECT r.id, c.name AS camera, r.ts, r.frame, r.reason, r.file, r.width, r.height, r.detections, r.stats FROM review_samples r JOIN cameras c ON c.id = r.camera_id WHERE r.ts >= ? ORDER BY r.ts, r.id')
    .all(sinceTs) as Row[];
  const index = new Map(names.map((n, i) => [n, i]));
  const manifest: string[] = [];
  let images = 0;
  let labels = 0;
  let missing = 0;
  for (const r of rows) {
    try {
      await copyFile(join(reviewDir, r.file), join(out, 'images', r.file));
    } catch {
      missing++;
      continue;
    }
    const dets = JSON.parse(r.detections) as { class: string; score: number; box: [number, number, number, number] }[];
    const lines = dets.flatMap((d) => {
      const c = index.get(d.class);
      if (c === undefined) return [];
      const [x1, y1, x2, y2] = d.box;
      const f = (v: number): string => Math.min(1, Math.max(0, v)).toFixed(6);
      return [`${c} ${f((x1 + x2) / 2 / r.width)} ${f((y1 + y2) / 2 / r.height)} ${f((x2 - x1) / r.width)} ${f((y2 - y1) / r.height)}`];
    });
    await writeFile(join(out, 'labels', r.file.replace(/\.jpg$/, '.txt')), lines.join('\n') + (lines.length ? '\n' : ''));
    labels += lines.length;
    images++;
    manifest.push(JSON.stringify({ image: `images/${r.file}`, camera: r.camera, ts: new Date(r.ts).toISOString(), frame: r.frame, reason: r.reason, detections: dets, stats: JSON.parse(r.stats) as unknown }));
  }
  const yaml = [`path: .`, `train: images`, `val: images`, `names:`, ...names.map((n, i) => `  ${i}: ${n}`)].join('\n') + '\n';
  await writeFile(join(out, 'data.yaml'), yaml);
  await writeFile(join(out, 'manifest.jsonl'), manifest.join('\n') + (manifest.length ? '\n' : ''));
  return { images, labels, missing };
}
