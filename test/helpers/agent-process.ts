/** `driftline agent` as its own process, started directly with node (npx does not pass SIGTERM on). */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, ROOT } from './cli.js';
import { endProcess, type Release } from './ports.js';

export interface AgentProcess {
  readonly proc: ChildProcess;
  /** Its exit code; null when a signal ended it. */
  readonly exited: Promise<number | null>;
  /** The end of what it printed on stderr, for failure messages. */
  stderr(): string;
}

/** Starts `driftline agent --config config`; the release ends it (SIGTERM, then SIGKILL) if the test has not. */
export function agentProcess(release: Release, name: string, config: string, env: NodeJS.ProcessEnv = process.env): AgentProcess {
  const proc = spawn(process.execPath, [CLI, 'agent', '--config', config], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  release(name, () => endProcess(proc));
  return { proc, exited, stderr: () => err };
}
