/**
 * A real agent in the test's process: the shipped ONNX model (its inference in a worker thread), a
 * synthetic camera, a SQLite store in a folder of its own, one-second windows, and its HTTP listener
 * on a free port. Each gets its own device name. The release stops it when the test ends.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfig } from '../../agent/config.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { silentLogger } from '../../lib/log.js';
import { uniqueName } from './collector.js';
import type { Release } from './ports.js';

export interface LiveAgent {
  readonly agent: RunningAgent;
  /** The HTTP listener's base URL. */
  readonly url: string;
  readonly dir: string;
  readonly device: string;
}

/** Starts an agent; `sections` replace or extend the defaults section by section (`http: { wedgedSeconds: 2 }`). */
export async function liveAgent(release: Release, sections: Record<string, Record<string, unknown>> = {}): Promise<LiveAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-http-'));
  const device = uniqueName('http-edge');
  const base: Record<string, Record<string, unknown>> = {
    model: { providers: ['cpu'], threads: 1, inferenceThread: 'worker' },
    store: { path: join(dir, 'agent.db') },
    telemetry: { windowSeconds: 1 },
    drift: { minFrames: 5 },
    mqtt: { device },
    http: { port: 0 },
  };
  const raw: Record<string, unknown> = { cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120, fps: 10 } }] };
  for (const k of new Set([...Object.keys(base), ...Object.keys(sections)])) raw[k] = { ...base[k], ...sections[k] };
  const agent = await startAgent(agentConfig(raw, {}).config, silentLogger);
  release(`agent ${device}`, () => agent.stop());
  return { agent, url: agent.http!.url, dir, device };
}
