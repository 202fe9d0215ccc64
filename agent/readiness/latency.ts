/**
 * Latency of the model as the agent runs it: session.run on the configured execution provider,
 * after a warm-up, at every batch size the model accepts. A model exported with a fixed batch says
 * so and is measured at that size only; one with a dynamic batch dimension is measured at 1, 2, 4
 * and 8 (throughput in images per second, latency per call). The report records where it was
 * measured: CPU model, cores, provider, intra-op threads, library and Node versions, and a note the
 * user gives (`--hardware-note`), since a developer laptop's p95 says little about a Jetson's.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { LoadedModel } from '../infer/model.js';

export interface LatencyRow {
  readonly batch: number;
  readonly runs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Images per second at this batch size. */
  readonly imagesPerSecond: number;
}

export interface LatencyReport {
  readonly rows: LatencyRow[];
  /** 'dynamic' when the batch dimension is symbolic; otherwise the fixed batch size. */
  readonly batch: 'dynamic' | number;
  readonly hardware: {
    readonly cpu: string;
    readonly cores: number;
    readonly memoryGiB: number;
    readonly platform: string;
    readonly provider: string;
    readonly intraOpThreads: number;
    readonly node: string;
    readonly onnxruntime: string;
    readonly note?: string;
  };
}

export interface LatencyOptions {
  /** Timed calls per batch size (default 200), after `warmup` untimed ones (default 20). */
  readonly runs?: number;
  readonly warmup?: number;
  readonly note?: string;
  readonly progress?: (done: number, total: number) => void;
}

/** The model's batch dimension: a number when fixed, 'dynamic' when symbolic. */
export function batchDimension(model: LoadedModel): 'dynamic' | number {
  const meta = (model.session as unknown as { inputMetadata?: readonly { name: string; shape?: readonly (number | string)[] }[] }).inputMetadata;
  const input = meta?.find((m) => m.name === model.inputName);
  const d = input?.shape?.[0];
  return typeof d === 'number' && d > 0 ? d : 'dynamic';
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export async function measureLatency(model: LoadedModel, o: LatencyOptions = {}): Promise<LatencyReport> {
  const runs = o.runs ?? 200;
  const warmup = o.warmup ?? 20;
  const batch = batchDimension(model);
  const sizes = batch === 'dynamic' ? [1, 2, 4, 8] : [batch];
  const rows: LatencyRow[] = [];
  const total = sizes.length * (runs + warmup);
  let done = 0;
  for (const b of sizes) {
    const data = new Float32Array(b * 3 * model.inputH * model.inputW);
    // Mid-grey with a gradient: not all zeros, which some providers special-case.
    for (let i = 0; i < data.length; i++) data[i] = 0.3 + 0.4 * ((i % 977) / 977);
    const feeds = { [model.inputName]: new ort.Tensor('float32', data, [b, 3, model.inputH, model.inputW]) };
    const ms: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const t = performance.now();
      await model.session.run(feeds);
      if (i >= warmup) ms.push(performance.now() - t);
      o.progress?.(++done, total);
    }
    ms.sort((x, y) => x - y);
    const mean = ms.reduce((a, v) => a + v, 0) / ms.length;
    rows.push({ batch: b, runs, p50Ms: percentile(ms, 0.5), p95Ms: percentile(ms, 0.95), p99Ms: percentile(ms, 0.99), imagesPerSecond: (1000 * b) / mean });
  }
  const cpus = os.cpus();
  return {
    rows,
    batch,
    hardware: {
      cpu: cpus[0]?.model.trim() ?? 'unknown',
      cores: cpus.length,
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.platform()} ${os.arch()} ${os.release()}`,
      provider: model.provider,
      intraOpThreads: model.tuning.intraOpThreads,
      node: process.version,
      onnxruntime: (ort.env.versions as { node?: string; common?: string }).node ?? ort.env.versions.common,
      ...(o.note ? { note: o.note } : {}),
    },
  };
}
