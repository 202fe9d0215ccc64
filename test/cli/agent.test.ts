import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { CLI, ROOT, cli, cliWith } from '../helpers/cli.js';
import { endProcess, releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

test('driftline agent records telemetry and, on SIGTERM, drains and flushes every frame before exiting 0', async (t) => {
  const release = releaser(t);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  // Released last-in first-out: the agent has exited before its folder goes.
  release('agent folder', () => rm(dir, { recursive: true, force: true }));
  const db = join(dir, 'agent.db');
  const cfg = join(dir, 'agent.yaml');
  await writeFile(cfg, `store:\n  path: ${db}\n  flushMs: 5000\nhttp:\n  port: 0\nlog:\n  level: info\ncameras:\n  - name: synth-a\n    source: { kind: synthetic, width: 320, height: 240, fps: 20, seed: 3 }\n  - name: synth-b\n    source: { kind: synthetic, width: 320, height: 240, fps: 20, seed: 4, schedule: [{ at: 0, gain: 1 }, { at: 2, gain: 0.5 }] }\n`);
  const child = spawn(process.execPath, [CLI, 'agent', '--config', cfg], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  release('driftline agent', () => endProcess(child));
  // 'close', not 'exit': the last lines on stderr may come after the exit.
  const closed = new Promise<number | null>((r) => child.once('close', r));
  let logs = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (logs += d));
  const t0 = Date.now();
  while (!/agent started/.test(logs)) {
    assert.ok(Date.now() - t0 < 60_000 && child.exitCode === null, `agent did not start:\n${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The start-up log names the HTTP listener's address (port 0: a free one), and it answers.
  const startLine = (): { msg: string; http?: string } | undefined =>
    logs.slice(0, logs.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; http?: string }).find((l) => l.msg === 'agent started');
  await until(() => startLine() !== undefined, 10_000, 'the whole start line');
  const started = startLine();
  assert.match(started?.http ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, logs);
  assert.equal((await fetch(`${started!.http}/healthz`)).status, 200);
  // More than 10 frames from each camera (at 20 fps, usually well before the 5-s flush), then the
  // stop: what is in the database since the last flush was written by the shutdown flush.
  const processed = async (): Promise<number[]> => {
    const text = await (await fetch(`${started!.http}/metrics`)).text();
    return ['synth-a', 'synth-b'].map((c) => Number(new RegExp(`^driftline_agent_frames_total\\{camera="${c}",result="processed"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0));
  };
  await until(async () => (await processed()).every((n) => n > 10), 30_000, 'more than 10 frames from each camera');
  child.kill('SIGTERM');
  const code = await closed;
  assert.equal(code, 0, logs);
  const stopped = logs.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; cameras?: { name: string; processed: number; offered: number; dropped: number }[] }).find((l) => l.msg === 'agent stopped');
  assert.ok(stopped?.cameras, logs);
  const conn = new Database(db, { readonly: true });
  assert.equal(conn.pragma('integrity_check', { simple: true }), 'ok');
  for (const c of stopped.cameras) {
    assert.ok(c.processed > 10, `${c.name} processed ${c.processed}`);
    const rows = conn.prepare('SELECT count(*) AS n FROM frames f JOIN cameras c ON c.id = f.camera_id WHERE c.name = ?').get(c.name) as { n: number };
    assert.equal(rows.n, c.processed, `${c.name}: every processed frame was flushed`);
  }
  conn.close();
});

test('driftline agent refuses a bad config with the key at fault, before starting anything', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const cfg = join(dir, 'agent.yaml');
  await writeFile(cfg, 'model:\n  conf: 7\ncameras:\n  - name: a\n    source: { kind: synthetic }\n');
  const r = await cli('agent', '--config', cfg);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /DRIFTLINE_ERR_CONFIG: invalid model\.conf: got 7, expected a number in \[0, 1\]/);
  const check = await cli('agent', '--config', cfg.replace('agent.yaml', 'nope.yaml'));
  assert.equal(check.code, 1);
  await writeFile(cfg, 'cameras:\n  - name: a\n    source: { kind: synthetic }\n');
  const ok = await cli('agent', '--config', cfg, '--check');
  assert.equal(ok.code, 0);
  assert.equal((JSON.parse(ok.stdout) as { config: { model: { conf: number } } }).config.model.conf, 0.25);
});

test('agent with an unreadable MQTT CA file stops at once with the key and the reason', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-cli-'));
  const file = join(dir, 'agent.yaml');
  await writeFile(file, `store: { path: ${join(dir, 'a.db')} }\nmqtt: { url: "mqtts://127.0.0.1:8883", ca: ${join(dir, 'missing-ca.pem')} }\ncameras:\n  - { name: c, source: { kind: synthetic } }\n`);
  const r = await cli('agent', '--config', file);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /DRIFTLINE_ERR_CONFIG: invalid mqtt\.ca: got "?.*missing-ca\.pem"?, expected a readable PEM file \(ENOENT\)/);
});

test('an MQTT client certificate left empty (install.sh makes the credentials empty) is named by --check, as by the start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-cli-'));
  await writeFile(join(dir, 'mqtt-cert'), '');
  await writeFile(join(dir, 'mqtt-key'), '\n');
  const file = join(dir, 'agent.yaml');
  await writeFile(file, `store: { path: ${join(dir, 'a.db')} }\nmqtt: { url: "mqtts://127.0.0.1:8883", cert: ${join(dir, 'mqtt-cert')}, key: ${join(dir, 'mqtt-key')} }\ncameras:\n  - { name: c, source: { kind: synthetic } }\n`);
  for (const args of [['--check'], []]) {
    const r = await cli('agent', '--config', file, ...args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /mqtt\.cert: got "?.*mqtt-cert"?, expected a PEM file, and this one is empty: fill it/, args.join(' ') || 'the start');
  }
});

test('a config with several mistakes is refused with all of them at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-cli-'));
  const cfg = join(dir, 'agent.yaml');
  await writeFile(cfg, 'model:\n  conf: 7\nstor: {}\ncameras:\n  - name: a b\n    source: { kind: synthetic, fps: -1 }\n');
  const r = await cli('agent', '--config', cfg, '--check');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^driftline: DRIFTLINE_ERR_CONFIG: 4 problems in the configuration:\n/);
  for (const re of [/- invalid model\.conf: got 7, expected a number in \[0, 1\]/, /- invalid stor: got \{\}, expected a known key/, /- invalid cameras\[0\]\.name: got "a b"/, /- invalid cameras\[0\]\.source\.fps: got -1/]) assert.match(r.stderr, re);
  await writeFile(cfg, 'cameras: [\n  - name: x\n');
  const yaml = await cli('agent', '--config', cfg);
  assert.equal(yaml.code, 1);
  assert.match(yaml.stderr, /DRIFTLINE_ERR_CONFIG: 2 problems in the configuration:\n {2}- invalid .*agent\.yaml: got the file, expected valid YAML: .* at line 2, column 3:\n\n.*name: x/s, 'every syntax error, with the lines around it');
  assert.doesNotMatch(yaml.stderr, /\n\s+at /, 'no stack trace');
});

test('--check finds every missing file and program at once; a real start with them fails the same way and creates nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-cli-'));
  const cfg = join(dir, 'agent.yaml');
  // The model, the profile, the CA and a camera's video file are missing; ffmpeg is not on PATH.
  await writeFile(
    cfg,
    [
      `model: { path: missing.onnx }`,
      `drift: { profile: missing.profile.json }`,
      `store: { path: state/agent.db }`,
      `mqtt: { url: "mqtts://127.0.0.1:8883", ca: certs/ca.pem }`,
      'cameras:',
      '  - { name: line-1, source: { kind: ffmpeg, url: clips/line-1.mp4 } }',
      '  - { name: line-2, source: { kind: images, path: frames/*.jpg } }',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, PATH: '/nonexistent' };
  for (const args of [['--check'], []]) {
    const r = await cliWith({ env }, 'agent', '--config', cfg, ...args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^driftline: DRIFTLINE_ERR_CHECK: 6 problems found before start:\n/);
    for (const re of [
      `DRIFTLINE_ERR_MODEL_NOT_FOUND: model file not found: ${join(dir, 'missing.onnx')}`,
      `DRIFTLINE_ERR_CONFIG: invalid drift.profile: got "${join(dir, 'missing.profile.json')}", expected a readable reference profile (ENOENT)`,
      `DRIFTLINE_ERR_CONFIG: invalid mqtt.ca: got "${join(dir, 'certs/ca.pem')}", expected a readable PEM file (ENOENT)`,
      'DRIFTLINE_ERR_PROGRAM_MISSING: camera line-1 needs ffmpeg, which is not installed or not executable: install the ffmpeg package (apt-get install ffmpeg)',
      `DRIFTLINE_ERR_CONFIG: invalid cameras[0].source.url: got "${join(dir, 'clips/line-1.mp4')}", expected an existing video file (ENOENT)`,
      `DRIFTLINE_ERR_CONFIG: invalid cameras[1].source.path: got "${join(dir, 'frames/*.jpg')}", expected an existing folder or file (${join(dir, 'frames')}: ENOENT)`,
    ]) assert.ok(r.stderr.includes(`  - ${re}\n`), `${re}\nin:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await readdir(dir), ['agent.yaml'], `${args.join(' ') || 'a start'} created nothing`);
  }
});

test('--check decodes a frame of each video file and lists each image folder: one that would only fail is a warning, and the check still passes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-probe-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'frames'));
  await writeFile(join(dir, 'frames', 'notes.txt'), 'not an image');
  await writeFile(join(dir, 'copied.mp4'), 'a text file, or a copy cut off before its first frame');
  const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-frames:v', '5', '-y', join(dir, 'line.mp4')]);
  assert.equal(made.status, 0, String(made.stderr));
  const cfg = join(dir, 'agent.yaml');
  await writeFile(
    cfg,
    [
      `model: { path: ${join(ROOT, 'models/line-detector.onnx')} }`,
      `store: { path: agent.db }`,
      'http: { enabled: false }',
      'cameras:',
      '  - { name: good, source: { kind: ffmpeg, url: line.mp4 } }',
      '  - { name: cut, source: { kind: ffmpeg, url: copied.mp4 } }',
      '  - { name: stills, source: { kind: images, path: frames } }',
      '',
    ].join('\n'),
  );
  const r = await cli('agent', '--config', cfg, '--check');
  assert.equal(r.code, 0, r.stderr);
  const { warnings } = JSON.parse(r.stdout) as { warnings: string[] };
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[0]!, new RegExp(`^cameras\\[1\\]\\.source\\.url: camera cut cannot decode a frame of ${join(dir, 'copied.mp4')} \\(ffmpeg: \\[mov,mp4,m4a,3gp,3g2,mj2\\] moov atom not found\\); it will report errors and retry$`));
  assert.equal(warnings[1], `cameras[2].source.path: camera stills finds no images at ${join(dir, 'frames')} (.jpg, .jpeg, .png, .webp, .tif, .tiff, .bmp, .gif or .avif, or files matching the pattern); it will report errors`);
  assert.ok(r.stderr.includes(`driftline: warning: ${warnings[0]}\n`), 'each warning on stderr too');
});

test('relative paths in a config file follow the file, not the working directory', async () => {
  const elsewhere = await mkdtemp(join(tmpdir(), 'driftline-cwd-'));
  const r = await cliWith({ cwd: elsewhere }, 'agent', '--config', join(ROOT, 'deploy', 'agent.example.yaml'), '--check');
  assert.equal(r.code, 0, r.stderr);
  const { config } = JSON.parse(r.stdout) as { config: { model: { path: string }; store: { path: string } } };
  assert.equal(config.model.path, join(ROOT, 'models', 'line-detector.onnx'));
  assert.equal(config.store.path, join(ROOT, 'data', 'agent.db'));
  assert.deepEqual(await readdir(elsewhere), [], '--check creates nothing');
  // From the environment, a relative path is the working directory's.
  const env = await cliWith({ cwd: elsewhere, env: { ...process.env, DRIFTLINE_STORE__PATH: 'here.db' } }, 'agent', '--config', join(ROOT, 'deploy', 'agent.example.yaml'), '--check');
  assert.equal((JSON.parse(env.stdout) as { config: { store: { path: string } } }).config.store.path, join(elsewhere, 'here.db'));
});
