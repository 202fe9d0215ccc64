/**
 * Execution-provider selection. onnxruntime-node does not fall back by itself: a session created
 * with ['tensorrt', 'cuda', 'cpu'] throws when the TensorRT libraries are missing. So we try each
 * configured provider alone, in order, and keep the first that loads, recording why the others failed.
 */
import * as ort from 'onnxruntime-node';
import { driftlineError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';

export const KNOWN_PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
export type ProviderName = (typeof KNOWN_PROVIDERS)[number];
export const DEFAULT_PROVIDERS: readonly ProviderName[] = ['tensorrt', 'cuda', 'cpu'];

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

export function checkProviders(list: readonly string[]): ProviderName[] {
  if (list.length === 0) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: 'providers', value: list, expected: `a non-empty list of ${KNOWN_PROVIDERS.join(', ')}` });
  }
  return list.map((p) => {
    const name = p.trim().toLowerCase();
    if (!(KNOWN_PROVIDERS as readonly string[]).includes(name)) {
      throw driftlineError('DRIFTLINE_ERR_EXECUTION_PROVIDER', { provider: p, expected: KNOWN_PROVIDERS.join(', ') });
    }
    return name as ProviderName;
  });
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
      if (attempts.length > 1) {
        log.warn({ provider, attempts }, `execution provider ${provider} in use after ${attempts.length - 1} failed attempt(s)`);
      } else {
        log.info({ provider }, `execution provider ${provider} in use`);
      }
      return { session, provider, attempts };
    } catch (e) {
      const reason = firstLine(e);
      attempts.push({ provider, ok: false, reason });
      log.warn({ provider, reason }, `execution provider ${provider} unavailable`);
    }
  }
  throw driftlineError('DRIFTLINE_ERR_MODEL_LOAD', {
    file,
    attempts: attempts.map((a) => `${a.provider}: ${a.reason ?? 'ok'}`).join('; '),
  });
}
