/**
 * cli/service.ts in process, with a fake service: the order of a run (load, start, READY, watchdog,
 * stop on SIGTERM or SIGINT), --config handed to load (undefined without it), and a failed start
 * reaching the caller. The real commands' --help, --check and systemd messages are tested through
 * the CLI (test/cli/agent.test.ts, test/cli/collector.test.ts, test/deploy/systemd-notify.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runService, type Service } from '../../cli/service.js';
import { until } from '../helpers/wait.js';

interface Config {
  readonly log: { readonly level: string; readonly format: 'json' };
  readonly name: string;
}

function fake(calls: string[], o: { failStart?: boolean } = {}): Service<Config, { id: string }> {
  return {
    name: 'fake',
    usage: 'fake --config FILE\n',
    load: (file) => {
      calls.push(`load ${file}`);
      return { config: { log: { level: 'silent', format: 'json' }, name: file ?? 'defaults' }, envUsed: [] };
    },
    check: () => Promise.reject(new Error('not asked')),
    start: async (config, log) => {
      calls.push(`start ${config.name} ${typeof log.info}`);
      if (o.failStart) throw new Error('port taken');
      return { id: 'r1' };
    },
    ready: (running, config) => {
      calls.push(`ready ${running.id} ${config.name}`);
      return 'running';
    },
    alive: (running) => {
      calls.push(`alive ${running.id}`);
      return () => undefined;
    },
    stopping: { log: 'stopping' },
    stop: async (running) => {
      calls.push(`stop ${running.id}`);
    },
  };
}

test('load, start, READY and the watchdog, then on SIGTERM stop, and exit 0', async () => {
  const calls: string[] = [];
  const run = runService(['--config', 'a.yaml'], fake(calls));
  await until(() => calls.includes('alive r1'), 5000, 'started');
  assert.deepEqual(calls, ['load a.yaml', 'start a.yaml function', 'ready r1 a.yaml', 'alive r1']);
  process.emit('SIGTERM');
  assert.equal(await run, 0);
  assert.deepEqual(calls.slice(4), ['stop r1']);
});

test('SIGINT stops it too; without --config, load gets undefined', async () => {
  const calls: string[] = [];
  const run = runService([], fake(calls));
  await until(() => calls.includes('alive r1'), 5000, 'started');
  process.emit('SIGINT');
  assert.equal(await run, 0);
  assert.deepEqual(calls, ['load undefined', 'start defaults function', 'ready r1 defaults', 'alive r1', 'stop r1']);
});

test('a start that fails reaches the caller: no READY, no stop', async () => {
  const calls: string[] = [];
  await assert.rejects(runService(['--config', 'b.yaml'], fake(calls, { failStart: true })), /port taken/);
  assert.deepEqual(calls, ['load b.yaml', 'start b.yaml function']);
});

test('an unknown flag is a usage error before anything is loaded', async () => {
  const calls: string[] = [];
  await assert.rejects(runService(['--nope'], fake(calls)), (e: Error & { code?: string }) => e.code === 'DRIFTLINE_ERR_USAGE');
  assert.deepEqual(calls, []);
});
