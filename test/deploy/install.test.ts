/**
 * deploy/install.sh, staged into a temp folder with DESTDIR (no user, no ownership, no systemctl):
 * run twice it leaves the same tree, byte for byte and mode for mode; the app, units, drop-in,
 * configs and credential files are where the units and configs expect them; the units it writes
 * pass systemd-analyze verify and security; the staged app starts and says READY=1 to a notify
 * socket; --uninstall leaves nothing, except a config someone changed and the state, which only
 * --purge removes. And shellcheck passes on every shell script in the repository.
 *
 * What staging cannot show: useradd, chown/chgrp, and systemctl daemon-reload/enable/try-restart run
 * only as root on a machine that systemd runs, and none is here.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { access, appendFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../helpers/cli.js';
import { uniqueName } from '../helpers/collector.js';
import { notifyListener } from '../helpers/notify-socket.js';
import { endProcess, releaser, type Release } from '../helpers/ports.js';
import { exposure, one, parseUnit, values, verify } from '../helpers/units.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);
const INSTALL = join(ROOT, 'deploy', 'install.sh');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function install(env: Record<string, string>, ...args: string[]): Promise<Result> {
  try {
    const r = await run(INSTALL, args, { env: { ...process.env, NODE: process.execPath, ...env }, maxBuffer: 16 << 20 });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as Result;
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Every path under `root`: type, mode, and the content's sha256 (or a link's target); sorted. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      const s = await lstat(p);
      const mode = (s.mode & 0o7777).toString(8);
      const rel = relative(root, p);
      if (s.isDirectory()) {
        out.push(`d ${mode} ${rel}`);
        await walk(p);
      } else if (s.isSymbolicLink()) out.push(`l ${mode} ${rel} -> ${await readlink(p)}`);
      else out.push(`f ${mode} ${rel} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  await walk(root);
  return out.sort();
}

const mode = async (p: string): Promise<string> => ((await lstat(p)).mode & 0o7777).toString(8);

/** A folder standing in for /dev with a Jetson's GPU nodes (plain files: install.sh only asks whether they exist). */
async function jetsonDev(release: Release): Promise<{ dir: string; nodes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-dev-'));
  release('fake /dev', () => rm(dir, { recursive: true, force: true }));
  const nodes = ['nvhost-ctrl', 'nvhost-ctrl-gpu', 'nvmap', 'nvgpu/igpu0/ctrl', 'dri/renderD128'];
  for (const n of [...nodes, 'video0', 'sda']) {
    await mkdir(join(dir, n, '..'), { recursive: true });
    await writeFile(join(dir, n), '');
  }
  return { dir, nodes: nodes.map((n) => `/dev/${n}`) };
}

async function tempDir(release: Release, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  release(`${prefix} folder`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('staged twice: the same tree; everything where the units expect it; the app runs; --uninstall leaves nothing', { timeout: 240_000 }, async (t) => {
  const release = releaser(t);
  const D = await tempDir(release, 'driftline-destdir-');
  const dev = await jetsonDev(release);
  const env = { DESTDIR: D, DRIFTLINE_DEV_ROOT: dev.dir };
  await access(INSTALL, constants.X_OK);

  const first = await install(env, '--collector');
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stderr, '');
  assert.match(first.stdout, /staged under .*: systemctl not run/);
  const before = await tree(D);
  const second = await install(env, '--collector');
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stderr, '');
  assert.match(second.stdout, /kept \/etc\/driftline\/agent\.yaml \(exists\)/);
  const after = await tree(D);
  const [was, now] = [new Set(before), new Set(after)];
  const changed = [...after.filter((l) => !was.has(l)), ...before.filter((l) => !now.has(l)).map((l) => `gone: ${l}`)];
  assert.deepEqual(changed, [], 'a second run changes nothing (a source file edited between the two runs shows here too)');
  t.diagnostic(`${before.length} paths staged`);

  // The app: the sources, the model, production dependencies only, ONNX Runtime for this platform only.
  const app = join(D, 'opt/driftline');
  for (const f of ['bin/driftline.js', 'bin/driftline.ts', 'agent/main.ts', 'collector/main.ts', 'lib/sd-notify.ts', 'models/line-detector.onnx', 'models/line-detector.profile.json', 'package.json', 'node_modules/tsx/package.json', 'node_modules/better-sqlite3/package.json']) {
    await access(join(app, f));
  }
  for (const dev of ['typescript', 'eslint', 'playwright-core', '@grafana']) {
    await assert.rejects(access(join(app, 'node_modules', dev)), `devDependency ${dev} not installed`);
  }
  const ort = join(app, 'node_modules/onnxruntime-node/bin');
  const napi = await readdir(ort);
  for (const v of napi) {
    assert.deepEqual(await readdir(join(ort, v)), ['linux']);
    assert.deepEqual(await readdir(join(ort, v, 'linux')), [process.arch]);
  }
  const top = ['INSTALLED', 'README.md', 'agent', 'bin', 'cli', 'collector', 'docs', 'lib', 'models', 'node_modules', 'package-lock.json', 'package.json', 'protocol', 'tsconfig.json'];
  assert.deepEqual((await readdir(app)).filter((f) => f !== 'LICENSE').sort(), top, 'the app and nothing else: no tests, benchmarks, scripts or training code');

  // Units: node and the prefix as on this machine; they pass verify (drop-in included) and security.
  const units = join(D, 'etc/systemd/system');
  assert.deepEqual((await readdir(units)).sort(), ['driftline-agent.service', 'driftline-agent.service.d', 'driftline-collector.service']);
  for (const role of ['agent', 'collector']) {
    const file = join(units, `driftline-${role}.service`);
    const u = parseUnit(await readFile(file, 'utf8'));
    assert.equal(one(u, 'Service', 'ExecStart'), `${process.execPath} /opt/driftline/bin/driftline.js ${role} --config /etc/driftline/${role}.yaml`);
    assert.equal(one(u, 'Service', 'WorkingDirectory'), '/opt/driftline');
    assert.equal(await mode(file), '644');
    const v = await verify(file);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stderr.trim(), '', 'verify warned');
    const { score, verdict } = await exposure(file);
    t.diagnostic(`staged driftline-${role}.service${role === 'agent' ? ' with its GPU drop-in' : ''}: exposure ${score} ${verdict}`);
    assert.ok(score <= 2.0, `exposure ${score}`);
  }
  const gpu = parseUnit(await readFile(join(units, 'driftline-agent.service.d/gpu.conf'), 'utf8'));
  assert.deepEqual(values(gpu, 'Service', 'DeviceAllow'), dev.nodes.map((n) => `${n} rw`), 'the GPU nodes present, no other device');
  assert.deepEqual(values(gpu, 'Service', 'BindPaths'), ['-/tmp/argus_socket']);

  // Configs: the example, pointing at the installed model and the state directory; readable by the service's group only.
  const agentYaml = join(D, 'etc/driftline/agent.yaml');
  const agentConf = parseYaml(await readFile(agentYaml, 'utf8')) as { model: { path: string }; store: { path: string } };
  assert.equal(agentConf.model.path, '/opt/driftline/models/line-detector.onnx');
  assert.equal(agentConf.store.path, '/var/lib/driftline/agent.db');
  assert.equal(await mode(agentYaml), '640');
  assert.equal(await readFile(join(D, 'etc/driftline/collector.yaml'), 'utf8'), await readFile(join(ROOT, 'deploy/collector.example.yaml'), 'utf8'));
  // Credentials: the files LoadCredential= reads, empty, for root only.
  for (const [role, ids] of [['agent', ['mqtt-cert', 'mqtt-key', 'mqtt-password', 'review-token']], ['collector', ['ack-token', 'mqtt-cert', 'mqtt-key', 'mqtt-password', 'store-password', 'webhook-secret']]] as const) {
    const dir = join(D, 'etc/driftline/credentials', role);
    assert.equal(await mode(dir), '700');
    assert.deepEqual((await readdir(dir)).sort(), [...ids]);
    const u = parseUnit(await readFile(join(units, `driftline-${role}.service`), 'utf8'));
    for (const id of ids) {
      assert.equal(await mode(join(dir, id)), '600');
      assert.equal((await lstat(join(dir, id))).size, 0);
      assert.ok(values(u, 'Service', 'LoadCredential').includes(`${id}:/etc/driftline/credentials/${role}/${id}`), `${role}: LoadCredential=${id}`);
    }
  }

  // The staged app runs: the agent, from the installed config (paths moved into the stage), says READY=1.
  const socket = await notifyListener(release);
  const work = await tempDir(release, 'driftline-staged-agent-');
  const agent = spawn(process.execPath, [join(app, 'bin/driftline.js'), 'agent', '--config', agentYaml, '--log-format', 'json'], {
    env: {
      ...process.env,
      NOTIFY_SOCKET: socket.path,
      DRIFTLINE_MODEL__PATH: join(app, 'models/line-detector.onnx'),
      DRIFTLINE_STORE__PATH: join(work, 'agent.db'),
      DRIFTLINE_HTTP__PORT: '0',
      // Nothing listens there: the agent keeps its summaries, and the machine's broker hears nothing.
      DRIFTLINE_MQTT__URL: 'mqtt://127.0.0.1:1', // a port below 1024 no test can take
      DRIFTLINE_MQTT__DEVICE: uniqueName('staged-edge'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  release('staged agent', () => endProcess(agent, 10_000));
  let stderr = '';
  agent.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => agent.once('exit', resolve));
  await until(() => socket.having('READY=1').length > 0 || agent.exitCode !== null, 90_000, 'READY=1 from the staged agent');
  assert.equal(agent.exitCode, null, stderr);
  agent.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.equal(socket.having('STOPPING=1').length, 1);

  const gone = await install(env, '--uninstall');
  assert.equal(gone.code, 0, gone.stderr);
  assert.deepEqual(await readdir(D), [], 'nothing left in DESTDIR');
});

test('--uninstall keeps a changed config and the state; --purge removes them; --prefix moves the app and the units follow', { timeout: 120_000 }, async (t) => {
  const release = releaser(t);
  const D = await tempDir(release, 'driftline-destdir-');
  // No GPU here: no drop-in.
  const env = { DESTDIR: D, DRIFTLINE_DEV_ROOT: await tempDir(release, 'driftline-nodev-') };
  const r = await install(env, '--prefix', '/srv/driftline');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readdir(join(D, 'etc/systemd/system')), ['driftline-agent.service'], 'the agent only, no GPU drop-in');
  const u = parseUnit(await readFile(join(D, 'etc/systemd/system/driftline-agent.service'), 'utf8'));
  assert.equal(one(u, 'Service', 'ExecStart'), `${process.execPath} /srv/driftline/bin/driftline.js agent --config /etc/driftline/agent.yaml`);
  assert.equal(one(u, 'Service', 'WorkingDirectory'), '/srv/driftline');
  assert.equal((parseYaml(await readFile(join(D, 'etc/driftline/agent.yaml'), 'utf8')) as { model: { path: string } }).model.path, '/srv/driftline/models/line-detector.onnx');

  await appendFile(join(D, 'etc/driftline/agent.yaml'), '# changed by the operator\n');
  await writeFile(join(D, 'etc/driftline/credentials/agent/mqtt-password'), 'secret\n');
  // What the running service would have made (StateDirectory=, LogsDirectory=).
  await mkdir(join(D, 'var/lib/driftline'), { recursive: true });
  await writeFile(join(D, 'var/lib/driftline/agent.db'), 'telemetry');
  await mkdir(join(D, 'var/log/driftline'), { recursive: true });

  const kept = await install(env, '--uninstall', '--prefix', '/srv/driftline');
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, /kept \/etc\/driftline\/agent\.yaml: changed since it was installed/);
  assert.match(kept.stdout, /kept \/var\/lib\/driftline/);
  assert.deepEqual((await tree(D)).map((l) => l.split(' ').slice(0, 3).join(' ')), [
    'd 755 etc',
    'd 755 etc/driftline',
    'd 700 etc/driftline/credentials',
    'd 700 etc/driftline/credentials/agent',
    'f 600 etc/driftline/credentials/agent/mqtt-password',
    'f 640 etc/driftline/agent.yaml',
    'd 755 var',
    'd 755 var/lib',
    'd 755 var/lib/driftline',
    'f 644 var/lib/driftline/agent.db',
    'd 755 var/log',
    'd 755 var/log/driftline',
  ].sort());

  const purged = await install(env, '--uninstall', '--purge', '--prefix', '/srv/driftline');
  assert.equal(purged.code, 0, purged.stderr);
  assert.deepEqual(await readdir(D), []);
});

test('usage errors: --purge without --uninstall, a relative prefix', async () => {
  const D = '/nonexistent-driftline-destdir';
  const purge = await install({ DESTDIR: D }, '--purge');
  assert.equal(purge.code, 1);
  assert.match(purge.stderr, /--purge goes with --uninstall/);
  const prefix = await install({ DESTDIR: D }, '--prefix', 'opt/driftline');
  assert.equal(prefix.code, 1);
  assert.match(prefix.stderr, /--prefix must be an absolute path/);
});

/** The repository's shell scripts: *.sh, and files whose first line names a POSIX shell or bash. */
async function shellScripts(): Promise<string[]> {
  const skip = new Set(['node_modules', '.git', 'dist', '.tmp', '.cache']);
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!skip.has(e.name)) await walk(p);
      } else if (e.isFile()) {
        if (/\.(sh|bash)$/.test(e.name)) out.push(p);
        else if ((await lstat(p)).size < 1 << 20) {
          const head = (await readFile(p)).subarray(0, 80).toString('latin1');
          if (/^#!\s*(\/usr)?\/bin\/(env\s+)?(ba|da|k)?sh\b/.test(head)) out.push(p);
        }
      }
    }
  };
  await walk(ROOT);
  return out.sort();
}

test('shellcheck passes on every shell script in the repository', async (t) => {
  const scripts = await shellScripts();
  const rel = scripts.map((s) => relative(ROOT, s));
  t.diagnostic(`shellcheck: ${rel.join(', ')}`);
  for (const s of ['deploy/install.sh', 'scripts/test.sh', '.ci/run']) assert.ok(rel.includes(s), `${s} is among them`);
  try {
    await run('shellcheck', ['--format=gcc', ...scripts], { cwd: ROOT, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    assert.fail(`shellcheck found problems:\n${err.stdout}${err.stderr}`);
  }
});
