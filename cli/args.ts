/** Small helpers shared by the CLI commands: typed flag parsing with specific usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkProviders, DEFAULT_PROVIDERS, type ProviderChoice } from '../agent/infer/providers.js';
import { driftlineError } from '../lib/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(argv: string[], options: Options, allowPositionals = false): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: (e as Error).message });
  }
}

export function intFlag(name: string, raw: unknown, def: number, min = 0): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--${name} must be an integer >= ${min}, got ${String(raw)}` });
  }
  return n;
}

export function numberFlag(name: string, raw: unknown, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--${name} must be a number in [${min}, ${max}], got ${String(raw)}` });
  }
  return n;
}

/** Parses WIDTHxHEIGHT. */
export function sizeFlag(name: string, raw: unknown, def: [number, number]): [number, number] {
  if (raw === undefined) return def;
  const m = /^(\d+)x(\d+)$/.exec(String(raw));
  if (!m || Number(m[1]) < 32 || Number(m[2]) < 32) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--${name} must look like 640x480 (each side >= 32), got ${String(raw)}` });
  }
  return [Number(m[1]), Number(m[2])];
}

/** One job's progress: `progressBar` with a single stage named `label` (a bar and an ETA on a TTY, a line every 10% otherwise). */
export function progress(label: string): (done: number, total: number) => void {
  const bar = progressBar();
  return (done, total) => bar(label, done, total);
}

/** --providers a,b,c: validated provider names, or auto (the default: what this platform has, best first). */
export function providersFlag(raw: unknown): ProviderChoice[] {
  return checkProviders(typeof raw === 'string' ? raw.split(',') : DEFAULT_PROVIDERS);
}

/** m:ss, or h:mm:ss from an hour up. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Progress of a long job in named stages, with a bar and an ETA for the stage in flight: redrawn in
 * place on a TTY (at most 10 times a second), a line every 10% otherwise (logs, CI). The ETA is the
 * stage's own rate so far; stderr, so stdout stays data. `now` is for tests.
 */
export function progressBar(stream: { isTTY?: boolean; write(s: string): unknown } = process.stderr, now: () => number = () => performance.now()): (stage: string, done: number, total: number) => void {
  let current = '';
  let started = 0;
  /** Done when the stage was first reported: a stage whose first report is a finished step has no rate yet. */
  let base = 0;
  let lastDraw = 0;
  let lastDecile = -1;
  return (stage, done, total) => {
    const t = now();
    if (stage !== current) {
      current = stage;
      started = t;
      base = done;
      lastDecile = -1;
    }
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const elapsed = (t - started) / 1000;
    const eta = done > base && done < total ? ` ETA ${clock((elapsed * (total - done)) / (done - base))}` : done >= total ? ` in ${clock(elapsed)}` : '';
    if (stream.isTTY) {
      if (done < total && t - lastDraw < 100) return;
      lastDraw = t;
      const width = 24;
      const filled = Math.round(frac * width);
      stream.write(`\r${stage} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.floor(frac * 100)}%${eta}\x1b[K${done >= total ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile === lastDecile) return;
    lastDecile = decile;
    stream.write(`${stage} ${done}/${total} (${Math.floor(frac * 100)}%)${eta}\n`);
  };
}

/**
 * `--<name> washer=0.4,scratch=0.5`: per-class thresholds in [0, 1]. With `names`, a class the model
 * lacks is a usage error naming the model's classes.
 */
export function classThresholdsFlag(name: string, raw: unknown, names?: readonly string[]): Record<string, number> | undefined {
  if (typeof raw !== 'string') return undefined;
  const out: Record<string, number> = {};
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [cls, value] = entry.split('=');
    const v = Number(value);
    if (!cls || value === undefined || value.trim() === '' || !(v >= 0 && v <= 1)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--${name}: ${JSON.stringify(entry)} is not class=threshold with a threshold in [0, 1]` });
    if (names && !names.includes(cls)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--${name} names unknown class ${JSON.stringify(cls)}; the model has ${names.join(', ')}` });
    out[cls] = v;
  }
  return out;
}
