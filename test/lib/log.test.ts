import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDriftlineError } from '../../lib/errors.js';
import { logFormat, prettyLine } from '../../lib/log.js';
import { CLI } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

test('format: the flag, else DRIFTLINE_LOG_FORMAT, else pretty on a terminal and JSON when piped or under systemd', () => {
  assert.equal(logFormat(undefined, {}, true), 'pretty');
  assert.equal(logFormat(undefined, {}, false), 'json', 'piped');
  assert.equal(logFormat(undefined, { INVOCATION_ID: 'x' }, true), 'json', 'under systemd');
  assert.equal(logFormat(undefined, { JOURNAL_STREAM: '8:1' }, true), 'json', 'to the journal');
  assert.equal(logFormat(undefined, { DRIFTLINE_LOG_FORMAT: 'pretty' }, false), 'pretty');
  assert.equal(logFormat('json', { DRIFTLINE_LOG_FORMAT: 'pretty' }, true), 'json', 'the flag wins');
  assert.equal(logFormat(undefined, { DRIFTLINE_LOG_FORMAT: 'json' }, true, 'pretty'), 'json', 'the environment over the file');
  assert.equal(logFormat(undefined, {}, true, 'json'), 'json', 'the file over auto');
  assert.equal(logFormat(undefined, {}, false, 'pretty'), 'pretty');
  assert.throws(() => logFormat('yaml', {}, true), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_USAGE') && /--log-format must be one of auto, pretty, json, got yaml/.test(e.message));
  assert.throws(() => logFormat(undefined, { DRIFTLINE_LOG_FORMAT: 'xml' }, true), /DRIFTLINE_LOG_FORMAT must be one of/);
});

test('a pretty line: local time, level, component, message, then key=value with strings quoted only when needed', () => {
  const t = new Date(2026, 10, 29, 7, 5, 9, 42).getTime();
  const line = prettyLine(JSON.stringify({ level: 40, time: t, name: 'agent', pid: 1, hostname: 'h', msg: 'camera cam1 error', camera: 'cam1', reason: 'no data for 1000 ms', n: 3, o: { a: 1 } }), false);
  assert.equal(line, '07:05:09.042 WARN  agent: camera cam1 error camera=cam1 reason="no data for 1000 ms" n=3 o={"a":1}\n');
  assert.ok(prettyLine(JSON.stringify({ level: 50, time: t, name: 'c', msg: 'x' }), true).endsWith('\x1b[31mERROR\x1b[0m c: x\n'), 'levels in colour on a terminal');
  assert.equal(prettyLine('not json', false), 'not json', 'anything else passes through');
});

test('driftline collector --log-format pretty logs lines a person reads; piped without the flag, JSON', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-log-'));
  for (const format of ['pretty', undefined]) {
    const env: NodeJS.ProcessEnv = { ...process.env, DRIFTLINE_COLLECTOR_BROKER__PORT: '0', DRIFTLINE_COLLECTOR_HTTP__PORT: '0', DRIFTLINE_COLLECTOR_STORE__PATH: join(dir, `${format}.db`) };
    delete env.DRIFTLINE_LOG_FORMAT;
    const child = spawn(process.execPath, [CLI, 'collector', ...(format ? ['--log-format', format] : [])], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise((r) => child.once('exit', r));
    await until(() => /collector started/.test(err) || child.exitCode !== null, 30_000, 'the collector to start');
    child.kill('SIGTERM');
    await exited;
    const started = err.split('\n').find((l) => l.includes('collector started'));
    assert.ok(started, err);
    if (format === 'pretty') assert.match(started, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}collector: collector started .*embedded=true/);
    else assert.equal((JSON.parse(started) as { msg: string; level: number }).level, 30);
  }
});
