/**
 * A private Mosquitto for tests that stop or restart the broker: its own port, config and
 * persistence folder, so the machine's broker on 1883 is never touched. Persistence is on, as in
 * production (deploy/mosquitto/), so queued messages of persistent sessions survive a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const MACHINE_BROKER = 'mqtt://127.0.0.1:1883';

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class TestBroker {
  private proc: ChildProcess | undefined;
  log = '';

  private constructor(
    readonly port: number,
    private readonly conf: string,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /**
   * `listener` replaces the default plain, anonymous listener's settings (for TLS tests); it gets
   * the port and the broker's folder, and returns config lines.
   */
  static async start(listener?: (port: number, dir: string) => Promise<string[]>): Promise<TestBroker> {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-mosquitto-'));
    await chmod(dir, 0o777); // mosquitto started as root drops to its own user, which must write the persistence file
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    const lines = listener ? await listener(port, dir) : [`listener ${port} 127.0.0.1`, 'allow_anonymous true'];
    await writeFile(conf, [...lines, 'persistence true', `persistence_location ${dir}/`, 'autosave_interval 1', 'max_queued_messages 100000', 'log_dest stderr', 'log_type error', 'log_type warning', ''].join('\n'));
    const b = new TestBroker(port, conf);
    await b.resume();
    return b;
  }

  /** Starts (again) on the same port with the same persistence. */
  async resume(): Promise<void> {
    const p = spawn('mosquitto', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = p;
    const t0 = Date.now();
    while (!(await reachable(this.port))) {
      if (p.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`mosquitto did not start on ${this.port}: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops it the way systemd does (SIGTERM: it saves its persistence file). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    this.proc = undefined;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

/** Clears a device's retained status on the machine's broker, so test devices do not pile up there. */
export async function clearRetainedStatus(site: string, device: string): Promise<void> {
  const { connectAsync } = await import('mqtt');
  const c = await connectAsync(MACHINE_BROKER, { clientId: `clear-${site}-${device}`.slice(0, 64) });
  await c.publishAsync(`driftline/v1/${site}/${device}/status`, '', { qos: 1, retain: true });
  await c.endAsync();
}
