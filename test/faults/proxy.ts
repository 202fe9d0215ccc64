/**
 * A TCP proxy on the test's own loopback addresses that makes the link between an agent and its
 * broker bad (`tc netem` is not available on these machines): every chunk is held back by a random
 * delay (order kept within each direction, strictly: see forward()), connections are cut at random moments (both sides
 * destroyed, so whatever was still held back, a PUBLISH or a PUBACK, is lost with them), and some
 * new connections are dropped as soon as they arrive (a connect that fails).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface ProxyOptions {
  /** Each chunk waits a random 0..maxDelayMs (never overtaking the previous one in its direction). */
  readonly maxDelayMs: number;
  /** A random live connection is cut every cutMinMs..cutMaxMs; 0: no cuts. */
  readonly cutMinMs: number;
  readonly cutMaxMs: number;
  /** Share of new connections dropped as soon as they arrive. */
  readonly refuseRate: number;
}

export class FlakyProxy {
  /** Connections accepted, cut and refused so far. */
  readonly stats = { accepted: 0, cut: 0, refused: 0 };
  private readonly pairs = new Set<[Socket, Socket]>();
  private timer: NodeJS.Timeout | undefined;
  private o: ProxyOptions;
  private held = false;
  /** Client-side connections that have closed (either end), counted. */
  clientsClosed = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    o: ProxyOptions,
  ) {
    this.o = o;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Listens on a free loopback port and forwards to 127.0.0.1:`targetPort`. */
  static async start(targetPort: number, o: ProxyOptions): Promise<FlakyProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const p = new FlakyProxy(server, (server.address() as AddressInfo).port, o);
    server.on('connection', (client) => p.accept(client, targetPort));
    p.schedule();
    return p;
  }

  /**
   * From now on nothing reaches the clients: the broker's bytes wait in the proxy (a broker that
   * stopped answering, or a path that swallows one direction), while the clients' bytes still go.
   */
  hold(): void {
    this.held = true;
  }

  /** From now on: a clean, prompt link (no delay, no cuts, no refusals). */
  heal(): void {
    this.o = { maxDelayMs: 0, cutMinMs: 0, cutMaxMs: 0, refuseRate: 0 };
    clearTimeout(this.timer);
  }

  private accept(client: Socket, targetPort: number): void {
    if (Math.random() < this.o.refuseRate) {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.accepted++;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    client.once('close', () => this.clientsClosed++);
    this.forward(client, upstream, false);
    this.forward(upstream, client, true);
  }

  /**
   * Copies `from` to `to`, each chunk late by a random delay, strictly in order, as TCP delivers.
   * One queue and one timer per direction: a timer per chunk does not keep order (two timers due in
   * the same millisecond may fire either way round, and fractional delays round differently), and a
   * proxy that swaps two PUBLISH packets makes a reordering TCP never would (it lost seqs here).
   */
  private forward(from: Socket, to: Socket, toClient: boolean): void {
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = (): void => {
      timer = undefined;
      if (toClient && this.held) return; // held for good: the queue only grows
      const now = Date.now();
      while (queue.length && queue[0]!.at <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length) timer = setTimeout(pump, queue[0]!.at - now);
    };
    from.on('data', (chunk: Buffer) => {
      const last = queue.length ? queue[queue.length - 1]!.at : 0;
      queue.push({ at: Math.max(last, Date.now() + Math.floor(Math.random() * this.o.maxDelayMs)), chunk });
      if (!timer) timer = setTimeout(pump, Math.max(0, queue[0]!.at - Date.now()));
    });
    from.once('close', () => clearTimeout(timer));
  }

  private schedule(): void {
    if (!this.o.cutMaxMs) return;
    const wait = this.o.cutMinMs + Math.random() * (this.o.cutMaxMs - this.o.cutMinMs);
    this.timer = setTimeout(() => {
      const live = [...this.pairs];
      const victim = live[Math.floor(Math.random() * live.length)];
      if (victim) {
        this.stats.cut++;
        this.pairs.delete(victim);
        for (const s of victim) s.destroy();
      }
      this.schedule();
    }, wait);
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    for (const pair of this.pairs) for (const s of pair) s.destroy();
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
