/** CPU time of processes and threads, from Linux's /proc, for benches that measure other processes. */
import { readFileSync } from 'node:fs';

const TICK_MS = 1000 / 100; // USER_HZ: /proc times are in 1/100 s on Linux

/** User + system CPU of a process or thread, ms, from its stat file; undefined once it is gone. */
export function statCpuMs(path: string): { cpu: number; comm: string; ppid: number } | undefined {
  let s: string;
  try {
    s = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' '); // f[0] is field 3 (state)
  return { cpu: (Number(f[11]) + Number(f[12])) * TICK_MS, comm, ppid: Number(f[1]) };
}

/** CPU ms of thread `tid` of process `pid` so far (the main thread's tid is the pid); 0 once it is gone. */
export function threadCpuMs(pid: number, tid: number): number {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`)?.cpu ?? 0;
}

/** CPU ms of process `pid` so far (every thread); 0 once it is gone. */
export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`)?.cpu ?? 0;
}
