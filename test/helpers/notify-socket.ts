/**
 * A notify socket, as systemd's service manager binds one for a Type=notify unit: an AF_UNIX
 * datagram socket in a fresh temp folder, read by /usr/bin/python3 (Node has no Unix datagram
 * sockets). Each message comes back as one JSON line with the sender's PID from SCM_CREDENTIALS.
 * File descriptors passed with a message (systemd-notify's BARRIER=1) are closed at once, as the
 * manager closes them, which releases the sender; BARRIER=1 messages are not listed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { endProcess, type Release } from './ports.js';
import { until } from './wait.js';

export const PYTHON = '/usr/bin/python3';

const LISTENER = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"listening": sys.argv[1]}), flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(4 * 64) + socket.CMSG_SPACE(12))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds:
                os.close(fd)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = array.array("i", data[:12])[0]
    print(json.dumps({"text": msg.decode("utf-8", "replace"), "pid": pid}), flush=True)
`;

export interface NotifyMessage {
  /** KEY=value lines, parsed. */
  readonly fields: Readonly<Record<string, string>>;
  readonly text: string;
  readonly pid: number | undefined;
}

export interface NotifyListener {
  /** The socket's path: the NOTIFY_SOCKET of the process under test. */
  readonly path: string;
  /** Every message so far, oldest first (BARRIER=1 left out). */
  readonly messages: NotifyMessage[];
  /** Messages with `KEY=value` among their fields. */
  having(field: string): NotifyMessage[];
}

/** Binds a listener; the release stops it and removes its folder. */
export async function notifyListener(release: Release): Promise<NotifyListener> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-notify-'));
  release('notify socket folder', () => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'notify.sock');
  const child = spawn(PYTHON, ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  release('notify socket listener', () => endProcess(child));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const messages: NotifyMessage[] = [];
  let listening = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as { listening?: string; text?: string; pid?: number | null };
    if (m.listening) listening = true;
    if (m.text === undefined || m.text === 'BARRIER=1') return;
    const fields = Object.fromEntries(m.text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    messages.push({ fields, text: m.text, pid: m.pid ?? undefined });
  });
  await until(() => listening || child.exitCode !== null, 10_000, `${PYTHON} to bind the notify socket`);
  if (!listening) throw new Error(`the notify socket listener exited: ${stderr.trim()}`);
  const having = (field: string): NotifyMessage[] => {
    const [k, v] = [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)];
    return messages.filter((m) => m.fields[k] === v);
  };
  return { path, messages, having };
}
