/**
 * What a test starts on the machine, and its release: a TCP port nothing listens on right now, for
 * servers a test starts itself (`onFreePort` tries again when another process took it first), a
 * server that never answers (`silentServer`), and `releaser`, which stops everything a test started
 * whether the test passes, fails or times out.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * Where freePort looks: below the range the kernel hands out for port 0 and for outgoing
 * connections (ip_local_port_range, 32768-60999 by default), from 10000. A port found there can be
 * taken before its user binds it only by another freePort caller that drew the same number, not by
 * any process on the machine that listens on port 0 or connects somewhere; so a port a test lets go
 * of while its broker or camera is down stays free for its return, as a test needs. Undefined where
 * the range cannot be read or leaves too little room below it: then the kernel picks (port 0).
 */
const OWN_PORTS: readonly [number, number] | undefined = (() => {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low >= 12_000 ? [10_000, low - 1] : undefined;
  } catch {
    return undefined;
  }
})();

/** Binds `port` (0: any) on the loopback address and lets it go: the port it got, or undefined when taken. */
function probePort(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(undefined) : reject(e)));
    s.listen(port, '127.0.0.1', () => {
      const got = (s.address() as AddressInfo).port;
      s.close(() => resolve(got));
    });
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on now (see OWN_PORTS for where it comes from). */
export async function freePort(): Promise<number> {
  if (OWN_PORTS) {
    const [from, to] = OWN_PORTS;
    for (let i = 0; i < 50; i++) {
      const port = await probePort(from + Math.floor(Math.random() * (to - from + 1)));
      if (port !== undefined) return port;
    }
  }
  const port = await probePort(0);
  if (port === undefined) throw new Error('no free TCP port on 127.0.0.1');
  return port;
}

/**
 * A TCP server that accepts connections and never answers (a camera whose stream server hangs, a
 * port held by something that is not the program a test starts), not yet listening; closed, with
 * the connections it holds, when the test ends.
 */
export function silentServer(t: Pick<TestContext, 'after'>): Server {
  const held = new Set<Socket>();
  const server = createServer((s) => {
    held.add(s);
    s.on('close', () => held.delete(s));
  });
  t.after(() => {
    for (const s of held) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return server;
}

/** How many ports `onFreePort` tries before it gives up. */
const PORT_ATTEMPTS = 5;

/**
 * Starts a server or program of a test's own (`start`, given the port) on a port `freePort` found
 * free, and again on a fresh one when the port was taken before it bound it: `freePort` lets go of
 * the port it found, so another process may take it meanwhile (CI saw it once, while a test made
 * certificates between the two). `start` ends what it started before it throws, and its error
 * carries the program's own words: "address already in use", or Node's EADDRINUSE, is tried again.
 * `first`: the port to try first (the helpers' own tests hand it a taken one).
 */
export async function onFreePort<T>(what: string, start: (port: number) => Promise<T>, first?: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(attempt === 1 && first !== undefined ? first : await freePort());
    } catch (e) {
      if (!(e instanceof Error) || !/address already in use|EADDRINUSE/i.test(e.message)) throw e;
      if (attempt >= PORT_ATTEMPTS) throw new Error(`${e.message} (the last of ${PORT_ATTEMPTS} ports tried, each taken before ${what} bound it)`, { cause: e });
    }
  }
}

/** Ends a child process: SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Idempotent. */
export async function endProcess(p: ChildProcess, graceMs = 5000): Promise<void> {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return; // never started, or gone
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const kill = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(kill);
}

/** Registers how to stop one thing; returns that stop, made idempotent, for the test to call itself. */
export type Release = <T>(what: string, stop: () => Promise<T> | T) => () => Promise<T>;

/**
 * `const release = releaser(t)`; then, right after starting each thing,
 * `const stopAgent = release('agent', () => agent.stop())`.
 *
 * When the test ends (passed, failed, or timed out), every stop the test has not called itself runs,
 * newest first (an agent before its collector, a collector before its broker). Node's own `t.after`
 * hooks run oldest first, and one that throws skips the rest; here each stop runs whatever the others
 * did, bounded by `ms` so one that hangs cannot hold the test file open, and their errors fail the
 * test. The returned stop can be called mid-test (a restart test stops the broker itself): it runs
 * once, and the end of the test only waits for it to have finished.
 */
export function releaser(t: TestContext, ms = 15_000): Release {
  const stops: { what: string; run: () => Promise<unknown>; called: () => boolean }[] = [];
  t.after(async () => {
    const errors: Error[] = [];
    for (const s of stops.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${s.what} did not stop within ${ms} ms`)), ms);
      });
      try {
        // A stop the test called itself already reported its outcome there: only wait for it to end.
        await Promise.race([s.called() ? s.run().catch(() => undefined) : s.run(), late]);
      } catch (e) {
        errors.push(e instanceof Error ? new Error(`stopping ${s.what}: ${e.message}`, { cause: e }) : new Error(`stopping ${s.what}: ${String(e)}`));
      } finally {
        clearTimeout(timer);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  });
  return <T>(what: string, stop: () => Promise<T> | T): (() => Promise<T>) => {
    let done: Promise<T> | undefined;
    let byTest = false;
    const run = (): Promise<T> => (done ??= Promise.resolve().then(stop));
    stops.push({ what, run, called: () => byTest });
    return () => {
      byTest = true;
      return run();
    };
  };
}
