/**
 * A folder of images (or a pattern like /data/frames/*.jpg) as a camera: files in name order,
 * decoded with sharp and fitted into the configured size without distortion (padded with grey
 * 114), delivered at `fps`, optionally looped. An unreadable file is counted as an error and
 * skipped; the source carries on.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Clock } from '../../lib/clock.js';
import { BaseSource, type SourceFrame } from './source.js';

export interface ImageDirSourceOptions {
  readonly name: string;
  /** A folder, or a folder plus a file pattern with * and ? (e.g. /data/line3/*.png). */
  readonly path: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly loop?: boolean;
  /** The clock frames are stamped with; default the system's. */
  readonly clock?: Clock;
}

const IMAGE = /\.(jpe?g|png|webp|tiff?|bmp|gif|avif)$/i;

function patternRegex(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** The files a path names, sorted: every image in a folder, or the files matching a pattern. */
export async function listImages(path: string): Promise<string[]> {
  let dir = path;
  let match: RegExp = IMAGE;
  if (/[*?]/.test(basename(path))) {
    dir = dirname(path);
    match = patternRegex(basename(path));
  } else if (!(await stat(path)).isDirectory()) {
    return [path];
  }
  return (await readdir(dir)).filter((f) => match.test(f)).sort().map((f) => join(dir, f));
}

export class ImageDirSource extends BaseSource {
  private timer: NodeJS.Timeout | undefined;
  private files: string[] = [];
  private pos = 0;
  private busy = false;

  constructor(readonly o: ImageDirSourceOptions) {
    super(o.name, o.width, o.height, o.clock);
  }

  start(onFrame: (f: SourceFrame) => void): void {
    this.setState('connecting');
    listImages(this.o.path).then(
      (files) => {
        this.files = files;
        if (files.length === 0) {
          this.error(`no images at ${this.o.path}`);
          this.setState('ended');
          return;
        }
        this.setState('streaming');
        this.timer = setInterval(() => void this.tick(onFrame), 1000 / this.o.fps);
      },
      (e: unknown) => {
        this.error(`cannot list ${this.o.path}: ${(e as Error).message}`);
        this.setState('ended');
      },
    );
  }

  private async tick(onFrame: (f: SourceFrame) => void): Promise<void> {
    if (this.busy || this.state !== 'streaming') return;
    if (this.pos >= this.files.length) {
      if (!this.o.loop) {
        if (this.timer) clearInterval(this.timer);
        this.setState('ended');
        return;
      }
      this.pos = 0;
    }
    const file = this.files[this.pos++]!;
    this.busy = true;
    try {
      const data = await sharp(file, { failOn: 'error' })
        .autoOrient()
        .removeAlpha()
        .toColourspace('srgb')
        .resize(this.width, this.height, { fit: 'contain', background: { r: 114, g: 114, b: 114 } })
        .raw()
        .toBuffer();
      if (this.state !== 'streaming') return;
      this.view.data = data;
      onFrame(this.stamp());
    } catch (e) {
      this.error(`${file}: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.setState('stopped');
  }
}
