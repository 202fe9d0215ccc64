/**
 * The synthetic line camera: a scene that moves frame by frame and a renderer, deterministic from a
 * seed. Stills (dataset images) come from `still()`, video frames from `next()`.
 */
import { type Conditions } from './conditions.js';
import { SceneRenderer } from './render.js';
import { ambiguousRegions, groundTruth, LineScene, type AmbiguousRegion, type GroundTruth } from './scene.js';
import { Rng } from './rng.js';

export interface SynthFrame {
  /** RGB24 pixels, owned by the camera and overwritten by the next call. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly index: number;
  readonly objects: GroundTruth[];
}

export class LineCamera {
  private readonly scene: LineScene;
  private readonly renderer: SceneRenderer;
  private index = 0;
  private started = false;

  constructor(
    readonly width: number,
    readonly height: number,
    seed: number,
  ) {
    this.scene = new LineScene(width, height, new Rng(seed));
    this.renderer = new SceneRenderer(width, height, seed);
  }

  /** The next video frame: the belt has moved by `beltSpeed` pixels. */
  next(c: Conditions): SynthFrame {
    if (!this.started) {
      this.scene.populate(c);
      this.started = true;
    } else {
      this.scene.step(c);
    }
    return this.frame(c);
  }

  /** An independent still: the belt is filled afresh. */
  still(c: Conditions): SynthFrame {
    this.scene.populate(c);
    this.started = true;
    return this.frame(c);
  }

  /** The regions of the last frame no labeller could call (scene.ts), computed on demand: datasets want them, live frames do not. */
  ambiguous(c: Conditions): AmbiguousRegion[] {
    return ambiguousRegions(this.scene, c);
  }

  private frame(c: Conditions): SynthFrame {
    const data = this.renderer.render(this.scene, c);
    return { data, width: this.width, height: this.height, index: this.index++, objects: groundTruth(this.scene, c) };
  }
}
