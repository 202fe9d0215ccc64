/**
 * The units in systemd/, checked statically: systemd is not PID 1 here, so nothing runs them.
 * - `systemd-analyze verify` passes on each, with no warning at all (verify exits 0 over an unknown
 *   or unparsable key and only warns, so a warning fails the test; a control shows a typo is caught).
 *   verify also needs ExecStart's program to exist: where node is not /usr/bin/node, the unit is
 *   checked with ExecStart pointing at this node, the rewrite deploy/install.sh does.
 * - `systemd-analyze security --offline=true` rates each at an exposure of 2.0 or less (OK); the
 *   scores are printed, and recorded in docs/deploy.md.
 * - What the units promise: Type=notify with a watchdog, restart with start limits, a dedicated user,
 *   state, logs and credentials, node run directly, the sandbox, devices, and credentials whose
 *   names match the paths the example configs read.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { exposure, one, parseUnit, values, verify } from '../helpers/units.js';

const UNITS = ['driftline-agent.service', 'driftline-collector.service'] as const;
const MAX_EXPOSURE = 2.0;

/** The unit as verify should see it on this machine: ExecStart's node is this one (install.sh's rewrite). */
async function unitHere(dir: string, name: string, edit: (text: string) => string = (t) => t): Promise<string> {
  const text = await readFile(join(ROOT, 'systemd', name), 'utf8');
  const file = join(dir, name);
  await writeFile(file, edit(text.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `)));
  return file;
}

for (const name of UNITS) {
  test(`${name}: systemd-analyze verify passes without a warning`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-units-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    if (process.execPath !== '/usr/bin/node') t.diagnostic(`checked with ExecStart=${process.execPath} (node is not /usr/bin/node here)`);
    const r = await verify(await unitHere(dir, name));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'verify warned');
  });

  test(`${name}: systemd-analyze security rates it ${MAX_EXPOSURE.toFixed(1)} or less (OK)`, async (t) => {
    const { score, verdict } = await exposure(join(ROOT, 'systemd', name));
    t.diagnostic(`${name}: exposure ${score} ${verdict}`);
    assert.ok(score <= MAX_EXPOSURE, `${name}: exposure ${score} ${verdict}, over ${MAX_EXPOSURE}`);
    assert.equal(verdict, 'OK');
  });
}

test('the verify check has teeth: a misspelt key, a bad value or a missing program fails it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-units-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const typo = await verify(await unitHere(dir, 'driftline-agent.service', (u) => u.replace(/^WatchdogSec=/m, 'WatchdogSecs=')));
  assert.match(typo.stderr, /Unknown key 'WatchdogSecs'/);
  const bad = await verify(await unitHere(dir, 'driftline-agent.service', (u) => u.replace(/^DevicePolicy=closed$/m, 'DevicePolicy=shut')));
  assert.match(bad.stderr, /device policy/i);
  const missing = await verify(await unitHere(dir, 'driftline-agent.service', (u) => u.replace(/^ExecStart=\S+ /m, 'ExecStart=/nonexistent/node ')));
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /\/nonexistent\/node is not executable/);
});

test('both units: notify with a watchdog, restarts with limits, a dedicated user, node run directly, a sandbox', async () => {
  for (const name of UNITS) {
    const role = name === 'driftline-agent.service' ? 'agent' : 'collector';
    const u = parseUnit(await readFile(join(ROOT, 'systemd', name), 'utf8'));
    const s = (key: string): string | undefined => one(u, 'Service', key);
    assert.equal(s('Type'), 'notify', name);
    // systemd-notify, the sender, is a child process (lib/sd-notify.ts).
    assert.equal(s('NotifyAccess'), 'all', name);
    assert.match(s('WatchdogSec') ?? '', /^\d+s$/, name);
    assert.equal(s('Restart'), 'on-failure', name);
    assert.ok(one(u, 'Unit', 'StartLimitIntervalSec') && one(u, 'Unit', 'StartLimitBurst'), `${name}: start limits in [Unit]`);
    assert.equal(s('ExecStart'), `/usr/bin/node /opt/driftline/bin/driftline.js ${role} --config /etc/driftline/${role}.yaml`);
    assert.equal(s('User'), 'driftline', name);
    assert.equal(s('StateDirectory'), 'driftline', name);
    assert.equal(s('LogsDirectory'), 'driftline', name);
    for (const [key, want] of [
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['NoNewPrivileges', 'yes'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['SystemCallArchitectures', 'native'],
      ['SystemCallErrorNumber', 'EPERM'],
      ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'],
      // V8's JIT writes machine code: MemoryDenyWriteExecute=yes would kill node.
      ['MemoryDenyWriteExecute', 'no'],
    ] as const) {
      assert.equal(s(key), want, `${name}: ${key}`);
    }
    assert.equal(values(u, 'Service', 'SystemCallFilter')[0], '@system-service', name);
    assert.equal(values(u, 'Service', 'Environment').filter((e) => e.startsWith('DRIFTLINE_STOP_REASON')).length, 0, 'the stop reason is not set here');
  }
  const agent = parseUnit(await readFile(join(ROOT, 'systemd', 'driftline-agent.service'), 'utf8'));
  assert.equal(one(agent, 'Service', 'DevicePolicy'), 'closed');
  assert.deepEqual(values(agent, 'Service', 'DeviceAllow'), ['char-video4linux rw'], 'cameras only; the GPU nodes come from the drop-in install.sh writes');
  assert.deepEqual(values(agent, 'Service', 'SupplementaryGroups'), ['video']);
  const collector = parseUnit(await readFile(join(ROOT, 'systemd', 'driftline-collector.service'), 'utf8'));
  assert.equal(one(collector, 'Service', 'PrivateDevices'), 'yes');
});

test('credentials: every /run/credentials/<unit>/<id> the example configs name is a LoadCredential= of that unit', async () => {
  const examples = [
    ['driftline-agent.service', 'deploy/agent.example.yaml'],
    ['driftline-collector.service', 'deploy/collector.example.yaml'],
  ] as const;
  for (const [name, example] of examples) {
    const u = parseUnit(await readFile(join(ROOT, 'systemd', name), 'utf8'));
    const loaded = new Map(values(u, 'Service', 'LoadCredential').map((v) => [v.slice(0, v.indexOf(':')), v.slice(v.indexOf(':') + 1)]));
    const named = [...(await readFile(join(ROOT, example), 'utf8')).matchAll(/\/run\/credentials\/([^/\s]+)\/([^\s#]+)/g)];
    assert.ok(named.length > 0, `${example} names credentials`);
    for (const [path, unit, id] of named) {
      assert.equal(unit, name, `${example}: ${path} belongs to ${name}`);
      assert.ok(loaded.has(id!), `${name}: LoadCredential=${id}:… for ${path} (${example})`);
      assert.match(loaded.get(id!)!, new RegExp(`^/etc/driftline/credentials/${name.replace(/^driftline-|\.service$/g, '')}/${id}$`));
    }
  }
});
