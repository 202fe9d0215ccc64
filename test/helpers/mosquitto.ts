/**
 * A private Mosquitto for tests that stop or restart the broker: its own port, config and
 * persistence folder, so the machine's broker on 1883 is never touched. Persistence is on, as in
 * production (deploy/mosquitto/), so queued messages of persistent sessions survive a restart.
 * Also: clients of the machine's broker, whose failures say which broker they tried.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { endProcess, onFreePort } from './ports.js';
import { findProgram } from '../../lib/program.js';
import { searchPath } from '../../scripts/preflight.js';

/** What Mosquitto logs (log_type information) once its listeners are open. */
const RUNNING = /mosquitto version \S+ running/;

export const MACHINE_BROKER = 'mqtt://127.0.0.1:1883';
const MACHINE = "the machine's Mosquitto on 127.0.0.1:1883 (npm test checks it is up before any test; ./scripts/test.sh starts it)";

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
   * the port and the broker's folder, and returns config lines. It may be called more than once:
   * a port found free can be taken by another process before Mosquitto binds it, and then the
   * broker starts again on a fresh port (onFreePort), with the same folder. A listener that takes
   * ports of its own takes them anew on each call.
   */
  static async start(listener?: (port: number, dir: string) => Promise<string[]>): Promise<TestBroker> {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-mosquitto-'));
    await chmod(dir, 0o777); // mosquitto started as root drops to its own user, which must write the persistence file
    const conf = join(dir, 'mosquitto.conf');
    return onFreePort('Mosquitto', async (port) => {
      const lines = listener ? await listener(port, dir) : [`listener ${port} 127.0.0.1`, 'allow_anonymous true'];
      await writeFile(conf, [...lines, 'persistence true', `persistence_location ${dir}/`, 'autosave_interval 1', 'max_queued_messages 100000', 'max_inflight_messages 1000', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type information', ''].join('\n'));
      const b = new TestBroker(port, conf);
      await b.resume();
      return b;
    });
  }

  /** Starts (again) on the same port with the same persistence. A broker that does not come up is ended. */
  async resume(): Promise<void> {
    if (this.proc) throw new Error(`mosquitto on ${this.port} is already running`);
    // Debian installs it in /usr/sbin, which a normal user's PATH may lack.
    const p = spawn(findProgram('mosquitto', searchPath(process.env.PATH)) ?? 'mosquitto', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.once('error', (e) => (this.log += `${e.message}\n`));
    p.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = p;
    const t0 = Date.now();
    // Up once it says so ("mosquitto version … running", logged after its listeners are open): a
    // port that answers is not proof, another process may have taken it meanwhile.
    const from = this.log.length;
    while (!(RUNNING.test(this.log.slice(from)) && (await reachable(this.port)))) {
      if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined || Date.now() - t0 > 10_000) {
        await this.stop();
        throw new Error(`mosquitto did not start on ${this.port}: ${this.log.slice(from)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops it the way systemd does (SIGTERM: it saves its persistence file); SIGKILL if it lingers. Idempotent. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p) await endProcess(p);
  }
}

/**
 * A client of the machine's broker with a unique client id (two clients with one id would kick
 * each other off). A failure to connect names the broker it tried.
 */
export async function machineClient(prefix: string): Promise<MqttClient> {
  try {
    return await connectAsync(MACHINE_BROKER, { clientId: `${prefix}-${randomUUID().slice(0, 8)}`, connectTimeout: 5000 });
  } catch (e) {
    throw new Error(`cannot connect to ${MACHINE}: ${(e as Error).message}`, { cause: e });
  }
}

/** Clears a device's retained status on the machine's broker, so test devices do not pile up there. */
export async function clearRetainedStatus(site: string, device: string): Promise<void> {
  const c = await machineClient('clear');
  try {
    await c.publishAsync(`driftline/v1/${site}/${device}/status`, '', { qos: 1, retain: true });
  } catch (e) {
    throw new Error(`clearing ${site}/${device}'s retained status on ${MACHINE}: ${(e as Error).message}`, { cause: e });
  } finally {
    await c.endAsync(true);
  }
}
