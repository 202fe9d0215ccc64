/**
 * Execution-provider selection. onnxruntime-node does not fall back by itself: a session created
 * with ['tensorrt', 'cuda', 'cpu'] throws when the TensorRT libraries are missing. So we try each
 * provider alone, in order, and keep the first that loads, recording why the others failed.
 *
 * `auto` (the default) tries only what this platform's ONNX Runtime build can have, best first,
 * decided once at start-up: the build's compiled-in providers (`listSupportedBackends`), and of
 * those it does not bundle (CUDA, TensorRT), only the ones whose provider library sits beside the
 * binding, where ONNX Runtime loads it from. A stock x86 install has neither library and goes
 * straight to the CPU, with no warning; a provider that is there and still fails (no GPU, a driver
 * mismatch) is logged at info under auto, and as a warning in an explicit list, as before.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { driftlineError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';

export const KNOWN_PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
export type ProviderName = (typeof KNOWN_PROVIDERS)[number];
/** What a config or flag may name: a provider, or `auto` alone. */
export type ProviderChoice = ProviderName | 'auto';
export const PROVIDER_CHOICES: readonly ProviderChoice[] = [...KNOWN_PROVIDERS, 'auto'];
export const DEFAULT_PROVIDERS: readonly ProviderChoice[] = ['auto'];

export interface ProviderAttempt {
  readonly provider: ProviderName;
  readonly ok: boolean;
  readonly reason?: string;
}

export interface SessionTuning {
  /** Intra-op threads; 0 lets ONNX Runtime choose (one per core). */
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly deviceId: number;
}

export function checkProviders(list: readonly string[]): ProviderChoice[] {
  if (list.length === 0) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: 'providers', value: list, expected: `a non-empty list of ${KNOWN_PROVIDERS.join(', ')}, or auto` });
  }
  const names = list.map((p) => {
    const name = p.trim().toLowerCase();
    if (!(PROVIDER_CHOICES as readonly string[]).includes(name)) {
      throw driftlineError('DRIFTLINE_ERR_EXECUTION_PROVIDER', { provider: p, expected: PROVIDER_CHOICES.join(', ') });
    }
    return name as ProviderChoice;
  });
  if (names.includes('auto') && names.length > 1) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: 'providers', value: list, expected: `auto alone, or a list of ${KNOWN_PROVIDERS.join(', ')} in the order to try` });
  }
  return names;
}

/** The folder ONNX Runtime's Node binding loads its provider libraries from. */
function bindingDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

const LIBRARY: Partial<Record<ProviderName, string>> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

/**
 * The providers this build can load, best first (tensorrt, cuda, cpu): compiled in, and bundled or
 * with its provider library beside the binding. `dir` and `backends` are for tests.
 */
export function availableProviders(dir = bindingDir(), backends: readonly { name: string; bundled: boolean }[] = ort.listSupportedBackends()): ProviderName[] {
  const out: ProviderName[] = [];
  for (const p of KNOWN_PROVIDERS) {
    const b = backends.find((x) => x.name === p);
    if (!b) continue;
    const lib = LIBRARY[p];
    if (!b.bundled && lib && !existsSync(join(dir, lib))) continue;
    out.push(p);
  }
  if (!out.includes('cpu')) out.push('cpu');
  return out;
}

/** The providers to try, in order: `auto` resolved to what this platform has, or the explicit list. */
export function resolveProviders(choices: readonly ProviderChoice[]): { readonly order: readonly ProviderName[]; readonly auto: boolean } {
  if (choices.length === 1 && choices[0] === 'auto') return { order: availableProviders(), auto: true };
  return { order: choices.filter((c): c is ProviderName => c !== 'auto'), auto: false };
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.trim();
}

export interface OpenedSession {
  readonly session: ort.InferenceSession;
  readonly provider: ProviderName;
  readonly attempts: readonly ProviderAttempt[];
}

/** Creates a session on the first provider of `order` that loads. */
export async function openSession(
  model: Uint8Array,
  file: string,
  order: readonly ProviderName[],
  tuning: SessionTuning,
  log: Logger,
  auto = false,
): Promise<OpenedSession> {
  const attempts: ProviderAttempt[] = [];
  // The native library prints its own error for each provider that fails to load; we log one line.
  ort.env.logLevel = 'fatal';
  for (const provider of order) {
    const ep: ort.InferenceSession.ExecutionProviderConfig =
      provider === 'cpu' ? 'cpu' : ({ name: provider, deviceId: tuning.deviceId } as ort.InferenceSession.ExecutionProviderConfig);
    try {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: [ep],
        intraOpNumThreads: tuning.intraOpThreads,
        interOpNumThreads: tuning.interOpThreads,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        logSeverityLevel: 4,
      });
      attempts.push({ provider, ok: true });
      if (attempts.length > 1 && !auto) {
        log.warn({ provider, attempts }, `execution provider ${provider} in use after ${attempts.length - 1} failed attempt(s)`);
      } else {
        log.info({ provider }, `execution provider ${provider} in use`);
      }
      return { session, provider, attempts };
    } catch (e) {
      const reason = firstLine(e);
      attempts.push({ provider, ok: false, reason });
      // Under auto a provider the platform lacks is expected; an explicit list asked for it.
      if (auto) log.info({ provider, reason }, `execution provider ${provider} not usable here; trying the next`);
      else log.warn({ provider, reason }, `execution provider ${provider} unavailable`);
    }
  }
  throw driftlineError('DRIFTLINE_ERR_MODEL_LOAD', {
    file,
    attempts: attempts.map((a) => `${a.provider}: ${a.reason ?? 'ok'}`).join('; '),
  });
}
