/**
 * Camera source over an ffmpeg child process: RTSP (TCP transport, with a socket timeout),
 * HTTP/MJPEG, video files (optionally looped) and V4L2 devices. ffmpeg scales to the configured size
 * and writes raw rgb24 to a pipe; the stream is cut exactly at frame boundaries into one reused
 * buffer. A process that exits is restarted with backoff (a file that ends is `ended` unless looped);
 * one that goes quiet for `stallMs` is killed and restarted.
 */
import { fileURLToPath } from 'node:url';
import { hasUrlScheme } from '../../lib/schema.js';
import { ProcessSource, START_MS, type ProcessSourceOptions } from './process-source.js';

export interface FfmpegSourceOptions extends ProcessSourceOptions {
  /** rtsp://…, http(s)://…, a file path, or /dev/videoN. */
  readonly url: string;
  /** Frame rate to deliver (ffmpeg's fps filter); omitted: as the stream comes. */
  readonly fps?: number;
  /** Loop a video file forever. */
  readonly loop?: boolean;
  /**
   * Read a file at its native rate, like a live camera (frames dropped when the pipeline is slower).
   * Off: a file is read at the pipeline's pace, every frame processed.
   */
  readonly realtime?: boolean;
  /** The ffmpeg binary (default `ffmpeg` on PATH). */
  readonly ffmpeg?: string;
}

/** A local file: a path (not a device) or a file: URL. */
export function isLocalFile(url: string): boolean {
  return url.startsWith('file:') || (!hasUrlScheme(url) && !url.startsWith('/dev/'));
}

/** The file system path of a local file's url, as ffmpeg reads it (`file:///a`, `file:/a`, `file:a`, `a`). */
export function localPath(url: string): string {
  if (url.startsWith('file://')) return fileURLToPath(url);
  return url.startsWith('file:') ? url.slice(5) : url;
}

/** The program this source runs and the Debian package that installs it. */
export const FFMPEG_PROGRAM = { program: 'ffmpeg', pkg: 'ffmpeg' } as const;

export function ffmpegArgs(o: FfmpegSourceOptions): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  const isRtsp = o.url.startsWith('rtsp://') || o.url.startsWith('rtsps://');
  // ffmpeg's own socket timeout is a backstop at twice the watchdog's longest limit (the start-up
  // allowance): the watchdog (within 1.25 x its limit) always sees a silent camera first, so a
  // stall is counted as a stall.
  const socketTimeoutUs = String(Math.max(o.stallMs ?? 10_000, o.startMs ?? START_MS) * 2000);
  if (isRtsp) args.push('-rtsp_transport', 'tcp', '-timeout', socketTimeoutUs);
  else if (/^https?:\/\//.test(o.url)) args.push('-rw_timeout', socketTimeoutUs, '-reconnect', '0');
  else if (o.url.startsWith('/dev/video')) args.push('-f', 'v4l2');
  if (o.loop) args.push('-stream_loop', '-1');
  if (o.realtime) args.push('-re');
  args.push('-i', o.url, '-an', '-sn');
  const filters = [`scale=${o.width}:${o.height}`];
  if (o.fps) filters.unshift(`fps=${o.fps}`);
  // passthrough: one output frame per decoded frame. ffmpeg's default for rawvideo fills timestamp
  // gaps with duplicates, and a stream with corrupt timestamps then floods the pipe with copies.
  args.push('-vf', filters.join(','), '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

export class FfmpegSource extends ProcessSource {
  override readonly paced: boolean;

  constructor(readonly opts: FfmpegSourceOptions) {
    super(opts, opts.ffmpeg ?? FFMPEG_PROGRAM.program, FFMPEG_PROGRAM.pkg);
    this.paced = isLocalFile(opts.url) && !opts.realtime;
  }

  protected args(): string[] {
    return ffmpegArgs(this.opts);
  }

  /** A file that reaches its end is finished unless looped; a stream that ends has dropped. */
  protected endsCleanly(): boolean {
    return isLocalFile(this.opts.url) && !this.opts.loop;
  }
}
