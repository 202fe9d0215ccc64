/**
 * Camera source over `gst-launch-1.0`, for Jetson: the hardware camera (nvarguscamerasrc) and the
 * hardware decoder (nvv4l2decoder) are GStreamer elements. The source part of the pipeline comes
 * from config — a preset or a raw description — and Driftline appends the conversion to RGB at the
 * configured size and an fdsink to its pipe. Tested here with `videotestsrc`.
 */
import { ProcessSource, type ProcessSourceOptions } from './process-source.js';

export type GstreamerPreset =
  | { readonly preset: 'jetson-csi'; readonly sensorId: number; readonly captureWidth: number; readonly captureHeight: number; readonly fps: number }
  | { readonly preset: 'rtsp-nvdec'; readonly url: string; readonly latencyMs: number }
  | { readonly preset: 'raw'; readonly pipeline: string };

export interface GstreamerSourceOptions extends ProcessSourceOptions {
  readonly source: GstreamerPreset;
  /** The pipeline ends by itself (a file, num-buffers): end of stream means `ended`, not a drop. */
  readonly finite?: boolean;
  readonly gstLaunch?: string;
}

/** The source part of the pipeline for a preset. */
export function gstSourceDescription(s: GstreamerPreset): string {
  switch (s.preset) {
    case 'jetson-csi':
      return (
        `nvarguscamerasrc sensor-id=${s.sensorId} ! ` +
        `video/x-raw(memory:NVMM),width=${s.captureWidth},height=${s.captureHeight},framerate=${Math.round(s.fps)}/1 ! nvvidconv`
      );
    case 'rtsp-nvdec':
      return `rtspsrc location=${s.url} protocols=tcp latency=${s.latencyMs} ! rtph264depay ! h264parse ! nvv4l2decoder ! nvvidconv`;
    case 'raw':
      return s.pipeline;
  }
}

/** The whole gst-launch description: source, then RGB at width x height to stdout. */
export function gstPipeline(o: GstreamerSourceOptions): string {
  return `${gstSourceDescription(o.source)} ! videoconvert ! videoscale ! video/x-raw,format=RGB,width=${o.width},height=${o.height} ! fdsink fd=1 sync=false`;
}

/**
 * Splits a description into gst-launch's argv the way a shell would: on whitespace, keeping
 * "double" or 'single' quoted parts (e.g. a location with spaces) together, without the quotes.
 */
export function gstTokens(description: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|([^\s"']+)/g;
  let cur = '';
  let last = -1;
  for (let m = re.exec(description); m !== null; m = re.exec(description)) {
    const piece = m[1] ?? m[2] ?? m[3] ?? '';
    if (m.index === last) cur += piece;
    else {
      if (last >= 0) out.push(cur);
      cur = piece;
    }
    last = m.index + m[0].length;
  }
  if (last >= 0) out.push(cur);
  return out;
}

/** The program this source runs and the Debian package that installs it. */
export const GSTREAMER_PROGRAM = { program: 'gst-launch-1.0', pkg: 'gstreamer1.0-tools' } as const;

export class GstreamerSource extends ProcessSource {
  constructor(readonly opts: GstreamerSourceOptions) {
    super(opts, opts.gstLaunch ?? GSTREAMER_PROGRAM.program, GSTREAMER_PROGRAM.pkg);
  }

  protected args(): string[] {
    // -q keeps gst-launch's own status lines off stdout, which carries the frames.
    return ['-q', ...gstTokens(gstPipeline(this.opts))];
  }

  protected endsCleanly(): boolean {
    return this.opts.finite === true;
  }
}
