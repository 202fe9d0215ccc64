/**
 * The standard process and Node.js metrics, under the names stock dashboards and alerts look for
 * (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, …): no prefix. Both processes, agent
 * and collector, register them through this one function, so they stay alike.
 *
 * prom-client 15 also registers three gauges named `nodejs_active_{handles,requests,resources}_total`.
 * A gauge must not end in `_total` (`promtool check metrics` rejects them), so they are removed:
 * each is the sum of its `{type}` gauge, which stays (`sum(nodejs_active_handles)`).
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

/** The standard names a dashboard can use; all unprefixed. */
export const PROCESS_METRICS = {
  cpuSeconds: 'process_cpu_seconds_total',
  cpuUserSeconds: 'process_cpu_user_seconds_total',
  cpuSystemSeconds: 'process_cpu_system_seconds_total',
  startTime: 'process_start_time_seconds',
  residentMemory: 'process_resident_memory_bytes',
  openFds: 'process_open_fds',
  maxFds: 'process_max_fds',
  heapUsed: 'nodejs_heap_size_used_bytes',
  heapTotal: 'nodejs_heap_size_total_bytes',
  externalMemory: 'nodejs_external_memory_bytes',
  eventLoopLag: 'nodejs_eventloop_lag_seconds',
  eventLoopLagP99: 'nodejs_eventloop_lag_p99_seconds',
  gcDuration: 'nodejs_gc_duration_seconds',
  activeHandles: 'nodejs_active_handles',
  activeRequests: 'nodejs_active_requests',
  activeResources: 'nodejs_active_resources',
  version: 'nodejs_version_info',
} as const;

/** Gauges prom-client names like counters; removed (see above). */
export const DROPPED_PROCESS_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export interface ProcessMetricsOptions {
  /**
   * How often the event-loop delay (`nodejs_eventloop_lag_*`) is sampled, ms (prom-client's default
   * 10). Each sample is a timer that wakes the loop: 100 wake-ups a second of an otherwise idle
   * process. The agent samples every 100 ms (agent/http/metrics.ts).
   */
  readonly eventLoopResolutionMs?: number;
}

/**
 * Registers the standard process and Node.js metrics on `registry`, unprefixed, less the three
 * gauges named like counters. Call it once per registry (prom-client refuses a second registration
 * of the same name).
 */
export function registerProcessMetrics(registry: Registry, o: ProcessMetricsOptions = {}): void {
  collectDefaultMetrics({ register: registry, ...(o.eventLoopResolutionMs ? { eventLoopMonitoringPrecision: o.eventLoopResolutionMs } : {}) });
  for (const name of DROPPED_PROCESS_METRICS) registry.removeSingleMetric(name);
}
