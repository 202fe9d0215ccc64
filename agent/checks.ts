/**
 * What `driftline agent --check` verifies and what the agent verifies before it creates anything:
 * the model and the reference profile exist (and belong together), the MQTT credential and TLS
 * files can be read, each camera's program is installed and its file or folder exists, and the store
 * and review folders can be created. Every problem is collected, none stops the others being found.
 * --check also decodes a frame of each video file and lists each image folder: a camera that would
 * only report errors is a warning, since the agent starts and keeps running without it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Checks } from '../lib/checks.js';
import { driftlineError, isDriftlineError } from '../lib/errors.js';
import { findProgram } from '../lib/program.js';
import type { AgentConfig } from './config.js';
import { profilePathFor, readProfile } from './drift/profile.js';
import type { Profile } from './drift/types.js';
import { reviewDirFor } from './review/sampler.js';
import { FFMPEG_PROGRAM, isLocalFile, localPath } from './source/ffmpeg.js';
import { GSTREAMER_PROGRAM } from './source/gstreamer.js';
import { listImages } from './source/image-dir.js';
import { probeVideoFile } from './source/video-probe.js';

export interface AgentChecks extends Checks {
  /** The reference profile, read and validated once (undefined: scoring off, or none beside the model). */
  profile?: { readonly file: string; readonly profile: Profile };
}

/**
 * `matchModel`: also hash the model to check the profile was made for it (--check; a start leaves
 * that to the model loader, which hashes the file anyway). `ports`: warn when the HTTP port cannot
 * be opened now (--check; a start finds out by opening it). `sources`: warn about a video file ffmpeg
 * cannot decode and an image folder with no images (--check; a start leaves that to the camera).
 */
export async function checkAgent(config: AgentConfig, o: { matchModel: boolean; ports?: boolean; sources?: boolean } = { matchModel: true, ports: true, sources: true }): Promise<AgentChecks> {
  const c: AgentChecks = new Checks();
  const model = config.model.path;
  let modelOk = false;
  if (!existsSync(model)) c.add(driftlineError('DRIFTLINE_ERR_MODEL_NOT_FOUND', { file: model }));
  else modelOk = c.readable('model.path', model, 'a readable ONNX file');
  if (config.drift.enabled) await checkProfile(c, config, modelOk && o.matchModel);
  const m = config.mqtt;
  if (m.url) {
    for (const k of ['ca', 'cert', 'key'] as const) c.pem(`mqtt.${k}`, m[k]);
    c.readable('mqtt.passwordFile', m.passwordFile);
  }
  if (config.http.enabled) {
    c.readable('http.reviewTokenFile', config.http.reviewTokenFile);
    if (o.ports) await c.port('http.port', config.http.host, config.http.port);
  }
  // Warnings of the source probes, in camera order whichever finishes first.
  const probes: Promise<string | undefined>[] = [];
  config.cameras.forEach((cam, i) => {
    const s = cam.source;
    const key = `cameras[${i}].source`;
    let program: string | undefined;
    if (s.kind === 'ffmpeg' || s.kind === 'gstreamer') {
      const p = s.kind === 'ffmpeg' ? FFMPEG_PROGRAM : GSTREAMER_PROGRAM;
      program = findProgram(p.program);
      if (!program) c.add(driftlineError('DRIFTLINE_ERR_PROGRAM_MISSING', { program: p.program, pkg: p.pkg, neededBy: `camera ${cam.name}` }));
    }
    if (s.kind === 'ffmpeg' && isLocalFile(s.url)) {
      const file = localPath(s.url);
      if (c.readable(`${key}.url`, file, 'an existing video file') && program && o.sources) {
        const warning = (why: string | undefined): string | undefined => why && `${key}.url: camera ${cam.name} cannot decode a frame of ${file} (${why}); it will report errors and retry`;
        probes.push(probeVideoFile(program, file).then(warning));
      }
    }
    if (s.kind === 'images') {
      const folder = /[*?]/.test(basename(s.path)) ? dirname(s.path) : s.path;
      if (!existsSync(folder)) c.add(driftlineError('DRIFTLINE_ERR_CONFIG', { key: `${key}.path`, value: JSON.stringify(s.path), expected: `an existing folder or file (${folder}: ENOENT)` }));
      else if (o.sources) {
        const none = `${key}.path: camera ${cam.name} finds no images at ${s.path}`;
        const warning = (files: string[]): string | undefined =>
          files.length === 0 ? `${none} (.jpg, .jpeg, .png, .webp, .tif, .tiff, .bmp, .gif or .avif, or files matching the pattern); it will report errors` : undefined;
        probes.push(listImages(s.path).then(warning, (e: Error) => `${none}: ${e.message}`));
      }
    }
  });
  for (const w of await Promise.all(probes)) if (w) c.warn(w);
  c.creatable('store.path', config.store.path);
  if (config.review.enabled) c.creatable('review.dir', config.review.dir || reviewDirFor(config.store.path));
  return c;
}

async function checkProfile(c: AgentChecks, config: AgentConfig, matchModel: boolean): Promise<void> {
  const file = config.drift.profile || profilePathFor(config.model.path);
  if (!config.drift.profile && !existsSync(file)) {
    c.warn(`no reference profile beside the model (${file}): windows will be stored unscored; make one with driftline baseline`);
    return;
  }
  if (!c.readable('drift.profile', file, 'a readable reference profile')) return;
  try {
    const profile = await readProfile(file);
    c.profile = { file, profile };
    if (!matchModel) return;
    const sha = createHash('sha256').update(readFileSync(config.model.path)).digest('hex');
    if (profile.model.sha256 !== sha) c.add(profileMismatch(file, profile.model.sha256, sha));
  } catch (e) {
    if (isDriftlineError(e)) c.add(e);
    else throw e;
  }
}

/** The profile was built for another model: its verdicts would compare unlike with unlike. */
export function profileMismatch(file: string, made: string, runs: string): ReturnType<typeof driftlineError> {
  return driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: `it was made for model ${made.slice(0, 12)}, but the agent runs ${runs.slice(0, 12)}: rebuild it with driftline baseline` });
}
