/**
 * When running on another execution provider is worth an alert. Not merely "not the first in the
 * list": with `auto`, or with one list for a mixed fleet, an x86 box on the CPU is as it should be,
 * and an alert for every one of them means nothing. A fallback is one of:
 *
 * - **required**: `model.requireProvider` names a provider and the device runs on another;
 * - **degraded**: the device once ran on a better provider (remembered in its store), that provider
 *   is still among those it tries, and it now runs on a worse one: the GPU it had is gone or broken.
 *
 * Providers rank tensorrt, cuda, cpu. The memory keeps the best provider the device has run on; a
 * box whose accelerator is removed on purpose is told so with an explicit list without it (then the
 * remembered one is not tried, and the memory follows what it runs on).
 */
import { KNOWN_PROVIDERS, type ProviderName } from './providers.js';

export interface ProviderFallback {
  /** The provider the device should be on. */
  readonly from: ProviderName;
  readonly reason: 'required' | 'degraded';
}

const rank = (p: string): number => {
  const i = (KNOWN_PROVIDERS as readonly string[]).indexOf(p);
  return i < 0 ? KNOWN_PROVIDERS.length : i;
};

/** The fallback, if any, and the provider to remember as the best this device runs on. */
export function providerFallback(inUse: ProviderName, tried: readonly ProviderName[], required: '' | ProviderName, remembered: string | undefined): { fallback: ProviderFallback | undefined; remember: ProviderName } {
  const before = remembered !== undefined && (tried as readonly string[]).includes(remembered) ? (remembered as ProviderName) : undefined;
  const degraded = before !== undefined && rank(before) < rank(inUse);
  const remember = degraded ? before : inUse;
  if (required && inUse !== required) return { fallback: { from: required, reason: 'required' }, remember };
  if (degraded) return { fallback: { from: before, reason: 'degraded' }, remember };
  return { fallback: undefined, remember };
}
