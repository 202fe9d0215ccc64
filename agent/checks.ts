/**
 * What `driftline agent --check` verifies and what the agent verifies before it creates anything:
 * the model and the reference profile exist (and belong together), the MQTT credential and TLS
 * files can be read, each camera's program is installed and its file or folder exists, and the store
 * and review folders can be created. Every problem is collected, none stops the others being found.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Checks } from '../lib/checks.js';
import { driftlineError, isDriftlineError } from '../lib/errors.js';
import { findProgram } from '../lib/program.js';
import type { AgentConfig } from './config.js';
import { profilePathFor, readProfile } from './drift/profile.js';
import { reviewDirFor } from './review/sampler.js';
import { isLocalFile } from './source/ffmpeg.js';

const PROGRAMS = { ffmpeg: { program: 'ffmpeg', pkg: 'ffmpeg' }, gstreamer: { program: 'gst-launch-1.0', pkg: 'gstreamer1.0-tools' } } as const;

export async function checkAgent(config: AgentConfig): Promise<Checks> {
  const c = new Checks();
  const model = config.model.path;
  const modelOk = existsSync(model);
  if (!modelOk) c.add(driftlineError('DRIFTLINE_ERR_MODEL_NOT_FOUND', { file: model }));
  else c.readable('model.path', model, 'a readable ONNX file');
  if (config.drift.enabled) await checkProfile(c, config, modelOk);
  const m = config.mqtt;
  if (m.url) for (const k of ['ca', 'cert', 'key', 'passwordFile'] as const) c.readable(`mqtt.${k}`, m[k], k === 'passwordFile' ? 'a readable file' : 'a readable PEM file');
  config.cameras.forEach((cam, i) => {
    const s = cam.source;
    const key = `cameras[${i}].source`;
    if (s.kind === 'ffmpeg' || s.kind === 'gstreamer') {
      const { program, pkg } = PROGRAMS[s.kind];
      if (!findProgram(program)) c.add(driftlineError('DRIFTLINE_ERR_PROGRAM_MISSING', { program, pkg, neededBy: `camera ${cam.name}` }));
    }
    if (s.kind === 'ffmpeg' && isLocalFile(s.url) && !s.url.startsWith('file:')) c.readable(`${key}.url`, s.url, 'an existing video file');
    if (s.kind === 'images') {
      const folder = /[*?]/.test(basename(s.path)) ? dirname(s.path) : s.path;
      if (!existsSync(folder)) c.add(driftlineError('DRIFTLINE_ERR_CONFIG', { key: `${key}.path`, value: JSON.stringify(s.path), expected: `an existing folder or file (${folder}: ENOENT)` }));
    }
  });
  c.creatable('store.path', config.store.path);
  if (config.review.enabled) c.creatable('review.dir', config.review.dir || reviewDirFor(config.store.path));
  return c;
}

async function checkProfile(c: Checks, config: AgentConfig, modelOk: boolean): Promise<void> {
  const file = config.drift.profile || profilePathFor(config.model.path);
  if (!config.drift.profile && !existsSync(file)) {
    c.warn(`no reference profile beside the model (${file}): windows will be stored unscored; make one with driftline baseline`);
    return;
  }
  if (!c.readable('drift.profile', file, 'a readable reference profile')) return;
  try {
    const profile = await readProfile(file);
    if (!modelOk) return;
    const sha = createHash('sha256').update(readFileSync(config.model.path)).digest('hex');
    if (profile.model.sha256 !== sha) {
      c.add(driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: `it was made for model ${profile.model.sha256.slice(0, 12)}, but the agent runs ${sha.slice(0, 12)}: rebuild it with driftline baseline` }));
    }
  } catch (e) {
    if (isDriftlineError(e)) c.add(e);
    else throw e;
  }
}
