/**
 * systemd's notify protocol (sd_notify(3)) for the Type=notify units in systemd/: READY=1 once the
 * process is up, STATUS= lines for `systemctl status`, STOPPING=1 on a clean stop, and WATCHDOG=1
 * keep-alive pings, sent at half of WATCHDOG_USEC and only while the caller's liveness check passes.
 * The check decides, not the timer: a process whose check fails stops pinging, and systemd kills and
 * restarts it once WatchdogSec passes without a ping.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd, or by a unit of another type)
 * every call does nothing and no timer is set.
 *
 * How the datagrams reach NOTIFY_SOCKET. The socket is an AF_UNIX SOCK_DGRAM socket, and Node has no
 * Unix datagram sockets (node:dgram is UDP only; node:net is stream only). The choices were:
 * - the npm packages `sd-notify` (MIT; a C++ addon over libsystemd: it needs libsystemd-dev headers,
 *   and did not build here without them) and `unix-dgram` (ISC; a C++ addon over nan). Both build
 *   with node-gyp, a compiler and Node's headers on every box, arm64 Jetsons included, at install
 *   time and again at each Node major upgrade; the project allows install scripts only for the
 *   addons it cannot do without.
 * - `systemd-notify`, the client systemd itself ships: present wherever systemd is, on x86 and on a
 *   Jetson alike, nothing to build. Its message comes from a child, not from the main PID, so the
 *   units set NotifyAccess=all; systemd attributes the message to the unit by the sender's cgroup.
 *   The known race (the child exits before systemd reads its cgroup, and the message is dropped) is
 *   closed since systemd 246: systemd-notify then waits on a BARRIER=1 until the manager has
 *   processed its message (Debian 12 has 252, Ubuntu 22.04 / JetPack 6 has 249). On older systemd,
 *   a dropped ping is absorbed by pinging at half the interval; a dropped READY=1 is not.
 * - a helper of our own (a long-lived python3 or C forwarder): one more program to ship and keep.
 * systemd-notify is used: one short-lived process per message, a few milliseconds every 30 s at
 * the default WatchdogSec=60s. Messages are sent one at a time, in order; a ping is skipped, not
 * queued, while an earlier message is still being delivered.
 */
import { execFile } from 'node:child_process';
import type { Logger } from './log.js';

/** The program that carries a message to NOTIFY_SOCKET (found on PATH). */
export const NOTIFY_COMMAND = 'systemd-notify';

/** The liveness check behind the pings: undefined while alive, else why not (one line, for STATUS=). */
export type Alive = () => string | undefined;

export interface SdNotify {
  /** NOTIFY_SOCKET is set: messages are sent. */
  readonly enabled: boolean;
  /** WATCHDOG_USEC in ms when systemd watches this process (WATCHDOG_PID, if set, is ours); else undefined. */
  readonly watchdogMs: number | undefined;
  /** Sends `KEY=value` fields as one message; resolves true once delivered, false when it could not be (logged). */
  send(...fields: string[]): Promise<boolean>;
  ready(status?: string): Promise<boolean>;
  status(text: string): Promise<boolean>;
  stopping(status?: string): Promise<boolean>;
  /**
   * Pings WATCHDOG=1 every watchdogMs / 2 while `alive()` says so, starting now. When it fails, the
   * pings stop and STATUS= says why (logged once, as it begins); when it passes again, they resume. Does nothing
   * when the watchdog is off. stop() ends it.
   */
  watchdog(alive: Alive): { stop(): void };
}

export interface SdNotifyOptions {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and PATH are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

const resolved = Promise.resolve(false);
const OFF: SdNotify = Object.freeze({
  enabled: false,
  watchdogMs: undefined,
  send: () => resolved,
  ready: () => resolved,
  status: () => resolved,
  stopping: () => resolved,
  watchdog: () => ({ stop: () => undefined }),
});

/** One line: the protocol separates fields with newlines. */
const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').slice(0, 1000);

/** The notifier for this process's environment: does nothing at all without NOTIFY_SOCKET. */
export function sdNotify(o: SdNotifyOptions = {}): SdNotify {
  const env = o.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return OFF;
  const log = o.log;
  const usec = Number(env.WATCHDOG_USEC);
  const ours = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
  const watchdogMs = Number.isSafeInteger(usec) && usec > 0 && ours ? usec / 1000 : undefined;
  // The child gets only what it needs: where to send, and where to find itself.
  const childEnv = { PATH: env.PATH || '/usr/local/bin:/usr/bin:/bin', NOTIFY_SOCKET: socket };
  let chain: Promise<unknown> = Promise.resolve();
  let inFlight = 0;
  let failing = false;

  const deliver = (fields: readonly string[]): Promise<boolean> =>
    new Promise((resolve) => {
      execFile(NOTIFY_COMMAND, fields, { env: childEnv, timeout: 15_000 }, (err, _stdout, stderr) => {
        if (!err) {
          if (failing) log?.info({ socket }, 'systemd notifications delivered again');
          failing = false;
          return resolve(true);
        }
        if (!failing) {
          const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${NOTIFY_COMMAND} not found on PATH (package systemd)` : oneLine(String(stderr).trim() || err.message);
          log?.error({ socket, fields: fields.map((f) => f.split('=')[0]), reason: why }, `systemd notification not delivered: ${why}`);
        }
        failing = true;
        resolve(false);
      });
    });

  const send = (...fields: string[]): Promise<boolean> => {
    inFlight++;
    const p = chain.then(() => deliver(fields.map(oneLine)));
    chain = p.finally(() => inFlight--);
    return p;
  };
  const withStatus = (field: string, status: string | undefined): Promise<boolean> => (status === undefined ? send(field) : send(field, `STATUS=${status}`));

  return {
    enabled: true,
    watchdogMs,
    send,
    ready: (status) => withStatus('READY=1', status),
    status: (text) => send(`STATUS=${text}`),
    stopping: (status) => withStatus('STOPPING=1', status),
    watchdog(alive) {
      if (watchdogMs === undefined) return { stop: () => undefined };
      let down: string | undefined;
      const tick = (): void => {
        let why: string | undefined;
        try {
          why = alive();
        } catch (e) {
          why = `liveness check failed: ${(e as Error).message}`;
        }
        if (why === undefined) {
          const back = down !== undefined;
          if (back) log?.info('liveness check passes again: watchdog pings resume');
          down = undefined;
          // A ping still on its way is as good as this one; do not stack them up behind it.
          if (back) void send('WATCHDOG=1', 'STATUS=running');
          else if (inFlight === 0) void send('WATCHDOG=1');
          return;
        }
        if (down !== undefined) return; // said once, when it began
        down = why;
        log?.error({ reason: why }, `liveness check fails: no watchdog ping; systemd restarts the service after WatchdogSec (${watchdogMs / 1000} s) without one`);
        void send(`STATUS=${why}`);
      };
      const timer = setInterval(tick, watchdogMs / 2);
      timer.unref();
      tick();
      return { stop: () => clearInterval(timer) };
    },
  };
}
