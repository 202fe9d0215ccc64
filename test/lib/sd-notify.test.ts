/**
 * lib/sd-notify.ts against a real notify socket (a /usr/bin/python3 datagram listener) through the
 * real systemd-notify: READY=1 and STATUS=, watchdog pings only while the liveness check passes,
 * STOPPING=1; nothing at all without NOTIFY_SOCKET; no watchdog when WATCHDOG_PID names another
 * process; a missing systemd-notify is reported once, not thrown.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sdNotify } from '../../lib/sd-notify.js';
import { notifyListener } from '../helpers/notify-socket.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

function capture(): { lines: { level: string; msg: string }[]; log: { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void } } {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (...a: unknown[]) => void lines.push({ level, msg: String(a.find((x) => typeof x === 'string') ?? '') });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

test('without NOTIFY_SOCKET: disabled, sends nothing, and the watchdog never runs its check', async () => {
  const n = sdNotify({ env: { WATCHDOG_USEC: '1000' } });
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogMs, undefined);
  assert.equal(await n.ready('up'), false);
  let checks = 0;
  const w = n.watchdog(() => {
    checks++;
    return undefined;
  });
  w.stop();
  assert.equal(checks, 0);
});

test('READY=1 with STATUS=, pings while alive, none while the check fails, pings again once it passes, STOPPING=1', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const socket = await notifyListener(release);
  const { log, lines } = capture();
  const n = sdNotify({ env: { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '200000', PATH: process.env.PATH }, log });
  assert.equal(n.enabled, true);
  assert.equal(n.watchdogMs, 200);
  assert.equal(await n.ready('running: 1 camera(s)'), true);
  assert.deepEqual(socket.messages[0]!.fields, { READY: '1', STATUS: 'running: 1 camera(s)' });

  let why: string | undefined;
  let checks = 0;
  const w = n.watchdog(() => {
    checks++;
    return why;
  });
  release('watchdog', () => w.stop());
  await until(() => socket.having('WATCHDOG=1').length >= 3, 20_000, 'three watchdog pings');

  why = 'pipeline wedged: camera cam has had a frame waiting for 31 s';
  await until(() => socket.having(`STATUS=${why}`).length === 1, 20_000, 'the STATUS saying why the pings stop');
  const wedgedAt = socket.messages.findIndex((m) => m.fields.STATUS === why);
  // Five more checks, all failing; then a message sent after them: messages go out one at a time, in
  // order, so once it has arrived, any ping those checks sent would have arrived before it.
  const seen = checks;
  await until(() => checks >= seen + 5, 20_000, 'five more liveness checks');
  assert.equal(await n.send('X_DRIFTLINE_PROBE=1'), true);
  const after = socket.messages.slice(wedgedAt + 1);
  assert.deepEqual(
    after.filter((m) => 'WATCHDOG' in m.fields),
    [],
    'no ping while the check fails',
  );
  assert.equal(after.filter((m) => 'STATUS' in m.fields).length, 0, 'the reason is said once, not at every check');
  assert.equal(lines.filter((l) => l.level === 'error').length, 1, 'and logged once');

  why = undefined;
  await until(() => socket.messages.slice(wedgedAt + 1).some((m) => m.fields.WATCHDOG === '1' && m.fields.STATUS === 'running'), 20_000, 'pings to resume');
  w.stop();
  assert.equal(await n.stopping('stopping'), true);
  assert.deepEqual(socket.messages.at(-1)!.fields, { STOPPING: '1', STATUS: 'stopping' });
});

test('WATCHDOG_PID of another process: the watchdog is not ours, no check runs; READY=1 still goes', { timeout: 30_000 }, async (t) => {
  const release = releaser(t);
  const socket = await notifyListener(release);
  const n = sdNotify({ env: { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid + 1), PATH: process.env.PATH } });
  assert.equal(n.watchdogMs, undefined);
  let checks = 0;
  n.watchdog(() => {
    checks++;
    return undefined;
  }).stop();
  assert.equal(checks, 0);
  assert.equal(await n.ready(), true);
  assert.deepEqual(socket.messages.map((m) => m.fields), [{ READY: '1' }]);
});

test('systemd-notify not on PATH: sends resolve false, the failure is logged once, nothing throws', async () => {
  const { log, lines } = capture();
  const n = sdNotify({ env: { NOTIFY_SOCKET: '/nonexistent/notify.sock', PATH: '/nonexistent' }, log });
  assert.equal(await n.ready(), false);
  assert.equal(await n.status('x'), false);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [['error', 'systemd notification not delivered: systemd-notify not found on PATH (package systemd)']],
  );
});
