/** Runs the real `driftline` launcher as a user would, for CLI tests. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = new URL('../../', import.meta.url).pathname;
export const CLI = join(ROOT, 'bin', 'driftline.js');
export const MODEL = join(ROOT, 'models', 'line-detector.onnx');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(...args: string[]): Promise<CliResult> {
  return cliWith({}, ...args);
}

/** `cli` from another working directory or with another environment (e.g. a PATH without ffmpeg). */
export async function cliWith(o: { cwd?: string; env?: NodeJS.ProcessEnv }, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: o.cwd ?? ROOT, maxBuffer: 16 << 20, ...(o.env ? { env: o.env } : {}) });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Renders a small dataset with `driftline synth` into a fresh temp folder; returns the folder. */
export async function renderDataset(count: number, seed: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-cli-'));
  const r = await cli('synth', '--out', dir, '--count', String(count), '--seed', String(seed), '--val', '0', '--defectRate', '0.5');
  assert.equal(r.code, 0, r.stderr);
  return dir;
}
