/** A real Alertmanager (Debian's prometheus-alertmanager) on a free port, with clustering off. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
  generatorURL: string;
}

export class TestAlertmanager {
  log = '';
  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
  ) {}

  static async start(): Promise<TestAlertmanager> {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-am-'));
    const port = await freePort();
    const conf = join(dir, 'alertmanager.yml');
    await writeFile(conf, ['route:', '  receiver: "null"', '  group_wait: 1s', 'receivers:', '  - name: "null"', ''].join('\n'));
    const proc = spawn('prometheus-alertmanager', [`--config.file=${conf}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: ['ignore', 'ignore', 'pipe'] });
    const am = new TestAlertmanager(`http://127.0.0.1:${port}`, proc);
    proc.stderr!.on('data', (d: Buffer) => (am.log += d.toString()));
    const t0 = Date.now();
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`alertmanager exited: ${am.log}`);
      try {
        if ((await fetch(`${am.url}/-/ready`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() - t0 > 15_000) throw new Error(`alertmanager not ready: ${am.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return am;
  }

  /** Alerts Alertmanager holds, active ones by default. */
  async alerts(query = ''): Promise<AmAlert[]> {
    return (await (await fetch(`${this.url}/api/v2/alerts${query}`)).json()) as AmAlert[];
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
