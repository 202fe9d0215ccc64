/**
 * The state of the synthetic conveyor: which parts are on the belt, where, and with which defect.
 * Geometry lives here; pixels live in render.ts. Sizes are defined at a 640 px reference width and
 * scale with the frame.
 */
import { CLASS_NAMES, classOf, type ClassName, type Defect, type PartKind } from './classes.js';
import type { Conditions } from './conditions.js';
import type { Rng } from './rng.js';

export const REFERENCE_WIDTH = 640;

export interface Part {
  readonly id: number;
  readonly kind: PartKind;
  readonly defect: Defect;
  x: number;
  y: number;
  readonly angle: number;
  /** Diameter (washer) or length (bracket) in pixels. */
  readonly size: number;
  /** Brightness variation of this part, around 1. */
  readonly tone: number;
  /** Scratch segment in local units of `size` (u0, v0, u1, v1). */
  readonly scratch: readonly [number, number, number, number];
  /** Burn blob centre and radius in local units of `size`. */
  readonly burn: readonly [number, number, number];
  /**
   * Stain smear in local units of `size`: centre (u, v), semi-axes (a, b), axis angle. Drawn only
   * for stained parts (NO_STAIN otherwise), so that a stain rate of 0 changes no random draw.
   */
  readonly stain: readonly [number, number, number, number, number];
}

const NO_STAIN = Object.freeze([0, 0, 0, 0, 0] as const);

/** A labelled object as the camera sees it, in output-frame pixels. */
export interface GroundTruth {
  readonly classId: number;
  readonly className: ClassName;
  readonly kind: PartKind;
  readonly defect: Defect;
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
  /** Fraction of the part's box inside the frame and not occluded. */
  readonly visible: number;
}

/** Parts less visible than this are not labelled (a labeller could not tell them apart either). */
export const MIN_VISIBLE = 0.4;

/** Half extents of a bracket in units of its size. */
export const BRACKET_HALF_W = 0.5;
export const BRACKET_HALF_H = 0.3;

export class LineScene {
  readonly parts: Part[] = [];
  /** Belt travel in pixels since the start; drives the texture. */
  beltOffset = 0;
  private nextId = 0;
  private readonly scale: number;
  readonly beltTop: number;
  readonly beltBottom: number;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly rng: Rng,
  ) {
    this.scale = width / REFERENCE_WIDTH;
    this.beltTop = Math.round(height * 0.1);
    this.beltBottom = Math.round(height * 0.9);
  }

  private makePart(x: number, c: Conditions): Part {
    const r = this.rng;
    const size = r.range(95, 135) * this.scale;
    const kind: PartKind = r.chance(0.5) ? 'washer' : 'bracket';
    const roll = r.next();
    let defect: Defect = 'none';
    // One roll picks the defect. The stain band sits between burn and the trained defects and is
    // empty at stainRate 0, so existing renders keep every draw.
    if (roll < c.heldOutRate) defect = 'burn';
    else if (roll < c.heldOutRate + c.stainRate) defect = 'stain';
    else if (roll < c.heldOutRate + c.stainRate + c.defectRate) defect = r.chance(0.5) ? 'scratch' : 'missing_notch';
    const margin = size * 0.55;
    const y = r.range(this.beltTop + margin, Math.max(this.beltTop + margin, this.beltBottom - margin));
    // A scratch crosses most of the part at a random angle; a burn sits somewhere on its surface.
    const a = r.range(0, Math.PI);
    const len = r.range(0.3, 0.42);
    const cu = r.range(-0.08, 0.08);
    const cv = r.range(-0.06, 0.06);
    const scratch = [cu - Math.cos(a) * len, cv - Math.sin(a) * len * 0.6, cu + Math.cos(a) * len, cv + Math.sin(a) * len * 0.6] as const;
    const burnAngle = r.range(0, 2 * Math.PI);
    const burnR = kind === 'washer' ? 0.36 : 0.22;
    const burn = [Math.cos(burnAngle) * burnR, Math.sin(burnAngle) * burnR * 0.5, r.range(0.13, 0.18)] as const;
    const angle = r.range(0, 2 * Math.PI);
    const tone = r.range(0.9, 1.1);
    // A stain is a long smear across the surface; its draws come last and only for stained parts.
    let stain: Part['stain'] = NO_STAIN;
    if (defect === 'stain') {
      const off = kind === 'washer' ? 0.34 : 0.12;
      const sa = r.range(0, 2 * Math.PI);
      stain = [Math.cos(sa) * off, Math.sin(sa) * off * 0.6, r.range(0.2, 0.28), r.range(0.07, 0.1), r.range(0, Math.PI)] as const;
    }
    return { id: this.nextId++, kind, defect, x, y, angle, size, tone, scratch, burn, stain };
  }

  /** Fills the belt with parts at random places: a still image rather than a video frame. */
  populate(c: Conditions): void {
    this.parts.length = 0;
    this.beltOffset = this.rng.range(0, 10_000);
    let x = this.rng.range(-60, 40) * this.scale;
    while (x < this.width + 70 * this.scale) {
      const p = this.makePart(x, c);
      p.x = x + p.size * 0.5;
      this.parts.push(p);
      x = p.x + p.size * 0.5 + this.rng.range(0.15, 1.3) * p.size;
    }
    // step() keeps parts in belt order: the rightmost (oldest) first, the newest last.
    this.parts.reverse();
  }

  /** Advances the belt by one frame: parts move, leave at the right, and enter at the left. */
  step(c: Conditions): void {
    const dx = c.beltSpeed * this.scale;
    this.beltOffset += dx;
    for (const p of this.parts) p.x += dx;
    while (this.parts.length > 0 && this.parts[0]!.x - this.parts[0]!.size > this.width) this.parts.shift();
    const last = this.parts[this.parts.length - 1];
    const leftEdge = last ? last.x - last.size * 0.6 : Number.POSITIVE_INFINITY;
    if (leftEdge > 0) {
      const p = this.makePart(0, c);
      const gap = this.rng.range(0.15, 1.3) * p.size;
      p.x = Math.min(leftEdge, this.width) - gap - p.size * 0.5;
      this.parts.push(p);
    }
  }
}

/** Axis-aligned extent of a part in world coordinates, before the camera transform. */
function partCorners(p: Part): number[] {
  if (p.kind === 'washer') {
    const r = p.size * 0.5;
    return [p.x - r, p.y - r, p.x + r, p.y - r, p.x + r, p.y + r, p.x - r, p.y + r];
  }
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  const hw = BRACKET_HALF_W * p.size;
  const hh = BRACKET_HALF_H * p.size;
  const out: number[] = [];
  for (const [u, v] of [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]] as const) out.push(p.x + u * c - v * s, p.y + u * s + v * c);
  return out;
}

/** Camera transform (roll about the centre, then shift): world point to output pixel. */
export function cameraTransform(c: Conditions, width: number, height: number): (x: number, y: number) => [number, number] {
  const th = (c.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  const cx = width / 2;
  const cy = height / 2;
  return (x, y) => [cos * (x - cx) - sin * (y - cy) + cx + c.offsetX, sin * (x - cx) + cos * (y - cy) + cy + c.offsetY];
}

/** Left edge, in output pixels, of the occluder that `occlusion` places at the right of the frame. */
export function occluderLeft(c: Conditions, width: number): number {
  return c.occlusion > 0 ? Math.round(width * (1 - c.occlusion)) : width;
}

/**
 * Where a part lands in the frame: its box clipped to what the camera sees (left of the occluder,
 * inside the frame), and the share of its full box that is, or undefined when none of it is.
 */
function partInView(p: Part, tf: (x: number, y: number) => [number, number], right: number, height: number): { x1: number; y1: number; x2: number; y2: number; visible: number } | undefined {
  const pts = partCorners(p);
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (let i = 0; i < pts.length; i += 2) {
    const [x, y] = tf(pts[i]!, pts[i + 1]!);
    x1 = Math.min(x1, x);
    y1 = Math.min(y1, y);
    x2 = Math.max(x2, x);
    y2 = Math.max(y2, y);
  }
  const full = (x2 - x1) * (y2 - y1);
  const cx1 = Math.max(0, x1);
  const cy1 = Math.max(0, y1);
  const cx2 = Math.min(right, x2);
  const cy2 = Math.min(height, y2);
  if (cx2 <= cx1 || cy2 <= cy1) return undefined;
  return { x1: cx1, y1: cy1, x2: cx2, y2: cy2, visible: ((cx2 - cx1) * (cy2 - cy1)) / full };
}

/** Ground-truth boxes for the current scene as the camera sees it. */
export function groundTruth(scene: LineScene, c: Conditions): GroundTruth[] {
  const tf = cameraTransform(c, scene.width, scene.height);
  const right = Math.min(occluderLeft(c, scene.width), scene.width);
  const out: GroundTruth[] = [];
  for (const p of scene.parts) {
    const v = partInView(p, tf, right, scene.height);
    if (!v || v.visible < MIN_VISIBLE) continue;
    const classId = classOf(p.kind, p.defect);
    out.push({ classId, className: CLASS_NAMES[classId]!, kind: p.kind, defect: p.defect, x1: v.x1, y1: v.y1, x2: v.x2, y2: v.y2, visible: v.visible });
  }
  return out;
}

/**
 * A region of the frame that no labeller could call, so an evaluation neither asks a detector to
 * find it nor counts a detection of it as a false alarm (COCO's "ignore"): a part cut by the frame
 * edge or the occluder to under MIN_VISIBLE of its area (left unlabelled by groundTruth()), and a
 * part labelled `missing_notch` whose notch position is out of view, which looks exactly like a
 * good part. `object` is that part's index in groundTruth()'s list.
 */
export interface AmbiguousRegion {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
  readonly reason: 'mostly out of view' | 'notch out of view';
  readonly object?: number;
}

/** Where the notch sits, in units of the part's size: washer (u, v) = (0.4, 0); bracket (0, -0.21). */
function notchCentre(p: Part): [number, number] {
  const [u, v] = p.kind === 'washer' ? [0.4, 0] : [0, -(BRACKET_HALF_H + 0.12) / 2];
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  return [p.x + p.size * (u * c - v * s), p.y + p.size * (u * s + v * c)];
}

/** The ambiguous regions of the current scene, in groundTruth()'s part order. Draws nothing random. */
export function ambiguousRegions(scene: LineScene, c: Conditions): AmbiguousRegion[] {
  const tf = cameraTransform(c, scene.width, scene.height);
  const right = Math.min(occluderLeft(c, scene.width), scene.width);
  const out: AmbiguousRegion[] = [];
  let labelled = 0;
  for (const p of scene.parts) {
    const v = partInView(p, tf, right, scene.height);
    if (!v) continue;
    const box = { x1: v.x1, y1: v.y1, x2: v.x2, y2: v.y2 };
    if (v.visible < MIN_VISIBLE) {
      // A sliver under a pixel wide is nothing a detector boxes.
      if (v.x2 - v.x1 >= 1 && v.y2 - v.y1 >= 1) out.push({ ...box, reason: 'mostly out of view' });
      continue;
    }
    if (p.defect === 'missing_notch') {
      const [nx, ny] = tf(...notchCentre(p));
      if (nx < 0 || nx >= right || ny < 0 || ny >= scene.height) out.push({ ...box, reason: 'notch out of view', object: labelled });
    }
    labelled++;
  }
  return out;
}
