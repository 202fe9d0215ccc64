/** Prometheus' own lint on a /metrics text: `promtool check metrics` (Debian's `prometheus` package). */
import { spawn } from 'node:child_process';
import { endProcess, type Release } from './ports.js';

/** What promtool printed (empty: nothing to say) and its exit code; the process is released with the test. */
export function promtoolCheckMetrics(text: string, release: Release): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    release('promtool', () => endProcess(p));
    let out = '';
    p.once('error', reject);
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.on('close', (code) => resolve({ out, code }));
    p.stdin.end(text);
  });
}
