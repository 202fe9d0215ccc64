/**
 * The V8 inspector of another Node process (started with --inspect=127.0.0.1:0), spoken to over its
 * WebSocket: a minimal client (RFC 6455 text frames, masked as a client must, pings answered), so
 * that a test can freeze a worker thread of a real child process the way a debugger does, with no
 * test hook inside it. Node 20 has no WebSocket client without a flag, hence this one.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { until } from './wait.js';

type Listener = (params: Record<string, unknown>) => void;

export class Inspector {
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, Listener[]>();
  private nextId = 0;
  private buffered = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  /** A close frame has gone out: none is sent again. */
  private closing = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.receive(d));
    socket.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('the inspector connection closed'));
      this.pending.clear();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to `ws://host:port/id`, the address Node prints as "Debugger listening on …". */
  static connect(url: string): Promise<Inspector> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const req = request({
        host: u.hostname,
        port: Number(u.port),
        path: u.pathname,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
      });
      req.once('upgrade', (_res, socket, head) => {
        const c = new Inspector(socket);
        if (head.length) c.receive(head);
        resolve(c);
      });
      req.once('response', (res) => reject(new Error(`the inspector refused the WebSocket upgrade: HTTP ${res.statusCode}`)));
      req.once('error', reject);
      req.end();
    });
  }

  /** A CDP command; resolves with its result, rejects with its error. */
  post(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.frame(0x1, Buffer.from(JSON.stringify({ id, method, params })));
    });
  }

  on(event: string, listener: Listener): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
  }

  /**
   * Leaves as a debugger should: a close frame, then Node closes the connection (at most 5 s, then
   * the socket is dropped). Quiet the sessions first, as freezeWorkers's thaw does: however the
   * connection ends (Node tears its side down the same way after a close frame), messages Node's
   * inspector thread still has for it can crash the inspected process (Node 20: SIGSEGV in
   * inspector::TcpHolder::WriteRaw on that thread, 2 runs in 13 of
   * test/deploy/systemd-notify.test.ts under load before the thaw quieted the workers).
   */
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.frame(0x8, Buffer.from([0x03, 0xe8])); // 1000: normal closure
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
    this.socket.destroy();
  }

  private frame(opcode: number, payload: Buffer): void {
    const mask = randomBytes(4);
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : n < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLength(n)]);
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  private receive(data: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, data]);
    for (;;) {
      const b = this.buffered;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + len) return;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const payload = b.subarray(at, at + len);
      this.buffered = b.subarray(at + len);
      if (opcode === 0x9) this.frame(0xa, Buffer.from(payload));
      else if (opcode === 0x8 && !this.closing) {
        // Node closes first: echo its close (RFC 6455 5.5.1), so that it closes the connection.
        this.closing = true;
        this.frame(0x8, Buffer.from(payload.subarray(0, 2)));
      } else if (opcode === 0x1 || opcode === 0x0) {
        this.fragments.push(Buffer.from(payload));
        if (fin) {
          const text = Buffer.concat(this.fragments).toString('utf8');
          this.fragments = [];
          this.message(text);
        }
      }
    }
  }

  private message(text: string): void {
    const m = JSON.parse(text) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown> };
    if (m.id !== undefined) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(`inspector: ${m.error.message}`));
      else p?.resolve(m.result);
    } else if (m.method) {
      for (const l of this.listeners.get(m.method) ?? []) l(m.params ?? {});
    }
  }
}

function bigLength(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/**
 * Freezes the worker threads of the inspected process whose script URL matches `url`: each stops at
 * its next JavaScript statement (Debugger.pause) and answers nothing until thawed. Thawed, each runs
 * again and its inspector session is detached. From outside the process (Inspector) or inside it
 * (test/agent/http/server.test.ts, through node:inspector).
 */
/** What freezeWorkers needs of an inspector: this file's client of another process, or node:inspector's Session of this one. */
export interface InspectorLike {
  post(method: string, params?: Record<string, unknown>): Promise<unknown>;
  on(event: string, listener: Listener): void;
}

export async function freezeWorkers(inspector: InspectorLike, url: RegExp): Promise<{ thaw: () => Promise<void> }> {
  const workers: string[] = [];
  inspector.on('NodeWorker.attachedToWorker', (p) => {
    const info = p.workerInfo as { url: string };
    if (url.test(info.url)) workers.push(p.sessionId as string);
  });
  const replies = new Map<number, () => void>();
  inspector.on('NodeWorker.receivedMessageFromWorker', (p) => {
    const msg = JSON.parse(p.message as string) as { id?: number };
    if (msg.id !== undefined) replies.get(msg.id)?.();
  });
  let id = 0;
  // Bounded: a worker that never answers fails the caller, naming the command, instead of holding
  // the test to its own timeout.
  const send = (sessionId: string, method: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const n = ++id;
      const settle = (e?: Error): void => {
        clearTimeout(timer);
        replies.delete(n);
        if (e) reject(e);
        else resolve();
      };
      const timer = setTimeout(() => settle(new Error(`worker session ${sessionId} did not answer ${method} within 10 s`)), 10_000);
      timer.unref();
      replies.set(n, () => settle());
      inspector.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id: n, method }) }).catch((e: Error) => settle(e));
    });
  await inspector.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
  await until(() => workers.length > 0, 10_000, `a worker thread matching ${url} to be attached`);
  for (const w of workers) {
    await send(w, 'Debugger.enable');
    await send(w, 'Debugger.pause');
  }
  return {
    thaw: async () => {
      for (const w of workers) await send(w, 'Debugger.resume');
      // Then quiet them, so that nothing is on its way when the caller disconnects: a worker whose
      // debugger is off and whose session is detached sends nothing more.
      for (const w of workers) await send(w, 'Debugger.disable');
      for (const w of workers) await inspector.post('NodeWorker.detach', { sessionId: w });
      await inspector.post('NodeWorker.disable');
    },
  };
}
