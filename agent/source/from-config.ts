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

/** A camera whose stream sets its own rate (RTSP) is counted at this many frames a second. */
export const ASSUMED_STREAM_FPS = 30;

/** The frames a second camera source `s` is expected to deliver: its configured rate, or ASSUMED_STREAM_FPS where its stream sets it. */
function expectedRate(s: AgentConfig['cameras'][number]['source']): number {
  return configuredFps(s) || ASSUMED_STREAM_FPS;
}

/**
 * Frames a second the cameras are expected to deliver, all together: each one's expectedRate.
 * Undefined when a source is paced (a recorded file read as fast as the frame loop takes it: no rate
 * bounds the load). The detector's `auto` thread choice reads it.
 */
export function expectedFps(cameras: AgentConfig['cameras'], sources: readonly FrameSource[]): number | undefined {
  if (sources.some((s) => s.paced)) return undefined;
  return cameras.reduce((sum, c) => sum + expectedRate(c.source), 0);
}

/** The most a burst may hold a frame for the other cameras', whatever their frame rates (ms). */
export const GATHER_MAX_MS = 100;

/**
 * `auto` gathers only while the model's runs take at most this share of the time (its warm-up run
 * time x the cameras' frame rates, all together). A burst runs its frames' letterboxes, runs and
 * decoding one after another, where one frame at a time overlaps a frame's letterbox and decoding
 * with another's run (in the worker, or on an accelerator): near saturation that overlap is worth
 * more frames a second than a burst's warmer runs save.
 */
export const GATHER_MAX_LOAD = 0.5;

/**
 * How long the frame loop may hold a camera's frame to run it with the other cameras' in one burst
 * (agent/infer/burst.ts), by `model.gather`: `off`, or with one camera, or when a source is paced,
 * or when the model's runs (`modelRunMs` each) would take over GATHER_MAX_LOAD of the time at the
 * cameras' frame rates, 0 (one frame at a time); `auto`, half the fastest camera's frame period (at
 * most GATHER_MAX_MS), so that a burst has run before a camera in it delivers its next frame, even
 * one that comes early by up to half a period (that frame waits for the next burst meanwhile).
 */
export function gatherMs(gather: AgentConfig['model']['gather'], cameras: AgentConfig['cameras'], sources: readonly FrameSource[], modelRunMs: number): number {
  const fps = expectedFps(cameras, sources);
  if (gather === 'off' || cameras.length < 2 || fps === undefined || (modelRunMs * fps) / 1000 > GATHER_MAX_LOAD) return 0;
  const fastest = Math.max(...cameras.map((c) => expectedRate(c.source)));
  return Math.min(GATHER_MAX_MS, Math.floor(1000 / fastest / 2));
}
