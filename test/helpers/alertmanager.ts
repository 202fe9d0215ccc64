/** A real Alertmanager (Debian's prometheus-alertmanager) on a free port, with clustering off. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endProcess, onFreePort } from './ports.js';

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
   * port (onFreePort). `port` is the first one to try (tests of this helper); a fresh one by default.
   */
  static async start(port?: number): Promise<TestAlertmanager> {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-am-'));
    const conf = join(dir, 'alertmanager.yml');
    await writeFile(conf, ['route:', '  receiver: "null"', '  group_wait: 1s', 'receivers:', '  - name: "null"', ''].join('\n'));
    return onFreePort('Alertmanager', (p) => TestAlertmanager.attempt(dir, conf, p), port);
  }

  /** One start on `port`: the ready Alertmanager; one that is not ready is ended, and the error says why. */
  private static async attempt(dir: string, conf: string, port: number): Promise<TestAlertmanager> {
    const proc = spawn('prometheus-alertmanager', [`--config.file=${conf}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: ['ignore', 'ignore', 'pipe'] });
    const am = new TestAlertmanager(`http://127.0.0.1:${port}`, proc);
    proc.once('error', (e) => (am.log += `${e.message}\n`));
    proc.stderr!.on('data', (d: Buffer) => (am.log += d.toString()));
    const t0 = Date.now();
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
        await am.stop(); // a spawn that failed has nothing to end; one that exited is gone
        throw new Error(`alertmanager exited: ${am.log}`);
      }
      try {
        // Bounded: whatever else holds the port may accept and never answer.
        if ((await fetch(`${am.url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) return am;
      } catch {
        /* not up yet, or not it */
      }
      if (Date.now() - t0 > 15_000) {
        await am.stop();
        throw new Error(`alertmanager not ready in 15 s: ${am.log}`);
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
