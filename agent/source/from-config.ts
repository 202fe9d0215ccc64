/**
 * The frame source each camera's config names (synthetic, a folder of images, GStreamer or FFmpeg),
 * built here from its config section so that the agent's composition root only wires.
 */
import type { Clock } from '../../lib/clock.js';
import type { AgentConfig } from '../config.js';
import { FfmpegSource } from './ffmpeg.js';
import { GstreamerSource } from './gstreamer.js';
import { ImageDirSource } from './image-dir.js';
import type { FrameSource } from './source.js';
import { SyntheticSource } from './synthetic.js';

/** Camera `name`'s source, from its `source` section. */
export function buildSource(name: string, s: AgentConfig['cameras'][number]['source'], clock: Clock): FrameSource {
  if (s.kind === 'synthetic') {
    const schedule = s.schedule.map(({ at, ...conditions }) => ({ at, conditions }));
    return new SyntheticSource({ name, width: s.width, height: s.height, fps: s.fps, seed: s.seed, schedule, wallClock: clock });
  }
  if (s.kind === 'images') return new ImageDirSource({ name, path: s.path, width: s.width, height: s.height, fps: s.fps, loop: s.loop, clock });
  if (s.kind === 'gstreamer') {
    const source =
      s.preset === 'jetson-csi'
        ? { preset: s.preset, sensorId: s.sensorId, captureWidth: s.captureWidth, captureHeight: s.captureHeight, fps: s.captureFps }
        : s.preset === 'rtsp-nvdec'
          ? { preset: s.preset, url: s.url, latencyMs: s.latencyMs }
          : { preset: s.preset, pipeline: s.pipeline };
    return new GstreamerSource({ name, width: s.width, height: s.height, finite: s.finite, stallMs: s.stallSeconds * 1000, source, clock });
  }
  return new FfmpegSource({
    name,
    url: s.url,
    width: s.width,
    height: s.height,
    ...(s.fps > 0 ? { fps: s.fps } : {}),
    loop: s.loop,
    realtime: s.realtime,
    stallMs: s.stallSeconds * 1000,
    clock,
  });
}

/** The frame rate camera source `s` is configured to deliver; 0 where the stream sets it (an RTSP camera at its own rate). */
export function configuredFps(s: AgentConfig['cameras'][number]['source']): number {
  return s.kind === 'gstreamer' ? (s.preset === 'jetson-csi' ? s.captureFps : 0) : s.fps;
}
