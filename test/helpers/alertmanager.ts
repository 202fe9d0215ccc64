/** A real Alertmanager (Debian's prometheus-alertmanager) on a free port, with clustering off. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endProcess, freePort } from './ports.js';

/** How many fresh ports `start` tries when the one it found free is taken before Alertmanager binds it. */
const PORT_ATTEMPTS = 5;

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

  /**
   * Starts it and waits until it is ready; one that does not get ready is ended. A port found free
   * can be taken by another process before Alertmanager binds it: then it starts again on a fresh
   * port (up to 5 tries). `port` is the first one to try (tests of this helper); a fresh one by default.
   */
  static async start(port?: number): Promise<TestAlertmanager> {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-am-'));
    const conf = join(dir, 'alertmanager.yml');
    await writeFile(conf, ['route:', '  receiver: "null"', '  group_wait: 1s', 'receivers:', '  - name: "null"', ''].join('\n'));
    for (let attempt = 1; ; attempt++) {
      const am = await TestAlertmanager.attempt(dir, conf, attempt === 1 && port !== undefined ? port : await freePort());
      if (typeof am !== 'string') return am;
      if (!/address already in use/i.test(am)) throw new Error(am);
      if (attempt >= PORT_ATTEMPTS) throw new Error(`${am} (the last of ${PORT_ATTEMPTS} ports tried, each taken before Alertmanager bound it)`);
    }
  }

  /** One start on `port`: the ready Alertmanager, or why it is not (it is ended then). */
  private static async attempt(dir: string, conf: string, port: number): Promise<TestAlertmanager | string> {
    const proc = spawn('prometheus-alertmanager', [`--config.file=${conf}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: ['ignore', 'ignore', 'pipe'] });
    const am = new TestAlertmanager(`http://127.0.0.1:${port}`, proc);
    proc.once('error', (e) => (am.log += `${e.message}\n`));
    proc.stderr!.on('data', (d: Buffer) => (am.log += d.toString()));
    const t0 = Date.now();
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
        await am.stop(); // a spawn that failed has nothing to end; one that exited is gone
        return `alertmanager exited: ${am.log}`;
      }
      try {
        // Bounded: whatever else holds the port may accept and never answer.
        if ((await fetch(`${am.url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) return am;
      } catch {
        /* not up yet, or not it */
      }
      if (Date.now() - t0 > 15_000) {
        await am.stop();
        return `alertmanager not ready in 15 s: ${am.log}`;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Alerts Alertmanager holds, active ones by default. */
  async alerts(query = ''): Promise<AmAlert[]> {
    return (await (await fetch(`${this.url}/api/v2/alerts${query}`)).json()) as AmAlert[];
  }

  /**
   * Polls the alerts until `cond` holds on them and returns them; fails after `ms` naming `what`
   * and showing the alerts it saw last.
   */
  async until(cond: (alerts: AmAlert[]) => boolean, ms: number, what: string, query = ''): Promise<AmAlert[]> {
    const t0 = Date.now();
    for (;;) {
      const alerts = await this.alerts(query);
      if (cond(alerts)) return alerts;
      if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what} in Alertmanager; it holds ${JSON.stringify(alerts.map((a) => ({ labels: a.labels, state: a.status.state })))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM (SIGKILL if it lingers); idempotent. */
  async stop(): Promise<void> {
    await endProcess(this.proc);
  }
}
