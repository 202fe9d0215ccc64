/**
 * Dockerfile (x86: collector and agent) and Dockerfile.jetson (the agent on JetPack 6), checked
 * without building them, since no image can be pulled here:
 * - dockerfile-utils, the linter behind the VS Code Docker extension (npm, MIT), with every check it
 *   has set to error;
 * - a structural test: base images pinned by tag or digest (never latest), a non-root USER and a
 *   HEALTHCHECK in the final stage, every COPY source present in the repository and not excluded by
 *   .dockerignore, the files the ENTRYPOINT and HEALTHCHECK run copied to where they run them,
 *   every source file the entry command imports copied, and for Jetson the engine-cache VOLUME and
 *   an ONNX Runtime version equal to the onnxruntime-node the lockfile installs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, normalize, posix } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { testCollector } from '../helpers/collector.js';
import { freePort, releaser } from '../helpers/ports.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}
interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

/** Instructions by stage: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let buf = '';
  let start = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (/^\s*#/.test(raw) || (!buf && !raw.trim())) continue;
    if (!buf) start = i + 1;
    const cont = /\\\s*$/.test(raw);
    buf += `${raw.replace(/\\\s*$/, '').trim()} `;
    if (cont) continue;
    const m = /^(\w+)\s+(.*)$/s.exec(buf.trim());
    buf = '';
    assert.ok(m, `line ${start}: an instruction`);
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ').trim();
    if (keyword === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(f, `line ${start}: FROM image [AS name]`);
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
    } else {
      assert.ok(stages.length, `line ${start}: ${keyword} before any FROM`);
      stages.at(-1)!.instructions.push({ keyword, args, line: start });
    }
  }
  return stages;
}

/** `image:tag` (not latest) or `image@sha256:…`; a registry host may carry a port. */
function pinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const last = image.slice(image.lastIndexOf('/') + 1);
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : '';
  return tag !== '' && tag !== 'latest' && !tag.includes('$');
}

/** COPY's flags, sources and destination; JSON form included. */
function copyParts(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(' ');
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice(7);
  return { ...(from ? { from } : {}), sources: rest.slice(0, -1), dest: rest.at(-1)! };
}

/** .dockerignore's patterns (plain paths and simple globs, as this repository uses them). */
function ignored(path: string): boolean {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return lines.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(.*/)?').replace(/\*/g, '[^/]*')}(/.*)?$`);
    return re.test(path);
  });
}

/** The files and folders the final stage copies from the repository, as paths in the image. */
function imageFiles(stage: Stage): Map<string, string> {
  const out = new Map<string, string>(); // path in the image -> path in the repository
  let workdir = '/';
  for (const i of stage.instructions) {
    if (i.keyword === 'WORKDIR') workdir = posix.resolve(workdir, i.args);
    if (i.keyword !== 'COPY') continue;
    const c = copyParts(i.args);
    if (c.from) continue;
    const dest = posix.resolve(workdir, c.dest);
    for (const s of c.sources) out.set(c.dest.endsWith('/') ? posix.join(dest, posix.basename(s)) : dest, s);
  }
  return out;
}

function providedBy(files: Map<string, string>, inImage: string): string | undefined {
  for (const [p, src] of files) if (inImage === p || inImage.startsWith(`${p}/`)) return normalize(join(src, inImage.slice(p.length)));
  return undefined;
}

/**
 * Every repository source file the entries reach through relative imports, static and dynamic, but
 * for the launcher's command table (bin/driftline.ts loads a command only when it runs): the
 * commands an image supports are entries of their own.
 */
function importClosure(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const text = readFileSync(join(ROOT, f), 'utf8');
    const re = f === 'bin/driftline.ts' ? /from\s+'(\.{1,2}\/[^']+)'/g : /(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g;
    for (const m of text.matchAll(re)) {
      const target = normalize(join(dirname(f), m[1]!)).replace(/\.js$/, '.ts');
      if (existsSync(join(ROOT, target))) todo.push(target);
      else assert.ok(existsSync(join(ROOT, normalize(join(dirname(f), m[1]!)))), `${f} imports ${m[1]}, which exists`);
    }
  }
  return seen;
}

interface Checked {
  stages: Stage[];
  final: Stage;
  files: Map<string, string>;
  all: (keyword: string) => Instruction[];
}

function structure(file: string): Checked {
  const stages = parseDockerfile(readFileSync(join(ROOT, file), 'utf8'));
  assert.ok(stages.length >= 2, `${file}: multi-stage`);
  const names = new Set<string>();
  for (const s of stages) {
    assert.ok(names.has(s.from) || pinned(s.from), `${file}: FROM ${s.from} is an earlier stage or pinned by tag or digest (not latest)`);
    if (s.name) names.add(s.name);
    for (const i of s.instructions.filter((x) => x.keyword === 'COPY')) {
      const c = copyParts(i.args);
      if (c.from) {
        assert.ok(names.has(c.from) || pinned(c.from), `${file}:${i.line}: COPY --from=${c.from} names an earlier stage or a pinned image`);
        continue;
      }
      for (const src of c.sources) {
        assert.ok(existsSync(join(ROOT, src)), `${file}:${i.line}: COPY source ${src} exists in the repository`);
        assert.ok(!ignored(src), `${file}:${i.line}: COPY source ${src} is not excluded by .dockerignore`);
      }
    }
  }
  const final = stages.at(-1)!;
  const all = (k: string): Instruction[] => final.instructions.filter((i) => i.keyword === k);
  const user = all('USER').at(-1);
  assert.ok(user, `${file}: the final stage sets USER`);
  assert.doesNotMatch(user.args, /^(root|0)(:|$)/, `${file}: USER ${user.args} is not root`);
  const hc = all('HEALTHCHECK');
  assert.equal(hc.length, 1, `${file}: one HEALTHCHECK`);
  assert.match(hc[0]!.args, /\bCMD\b/, `${file}: HEALTHCHECK runs a command (not NONE)`);
  return { stages, final, files: imageFiles(final), all };
}

/** The runtime stage's entry files are copied where ENTRYPOINT and HEALTHCHECK run them. */
function runsWhatItCopies(file: string, c: Checked, entryImports: string[]): void {
  const entry = JSON.parse(c.all('ENTRYPOINT').at(-1)!.args) as string[];
  const script = entry.find((a) => a.endsWith('/bin/driftline.js'));
  assert.ok(script, `${file}: ENTRYPOINT runs bin/driftline.js`);
  assert.equal(providedBy(c.files, script), 'bin/driftline.js');
  const hc = /CMD (\[.*\])$/.exec(c.all('HEALTHCHECK')[0]!.args);
  const probe = (JSON.parse(hc![1]!) as string[]).find((a) => a.endsWith('.mjs'))!;
  const probeSrc = providedBy(c.files, probe);
  assert.equal(probeSrc, 'deploy/docker/healthcheck.mjs', `${file}: the healthcheck script is copied to ${probe}`);
  assert.match(readFileSync(join(ROOT, probeSrc), 'utf8'), /\/healthz/, 'it asks /healthz');
  const copied = [...c.files.values()].map((s) => normalize(s));
  for (const f of importClosure(entryImports)) {
    assert.ok(copied.some((s) => f === s || f.startsWith(`${s}/`)), `${file}: ${f} (imported by the entry command) is copied into the image`);
  }
  assert.ok(providedBy(c.files, '/opt/driftline/models/line-detector.onnx'), `${file}: the shipped model is in the image`);
  assert.ok(providedBy(c.files, '/opt/driftline/package.json'), `${file}: package.json (its version) is in the image`);
  // Production dependencies, with .npmrc (onnxruntime-node-install=skip) present when npm ci runs.
  const deps = c.stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /npm ci --omit=dev\b/.test(i.args)));
  assert.ok(deps, `${file}: a stage runs npm ci --omit=dev`);
  const ci = deps.instructions.findIndex((i) => i.keyword === 'RUN' && /npm ci/.test(i.args));
  assert.ok(deps.instructions.slice(0, ci).some((i) => i.keyword === 'COPY' && copyParts(i.args).sources.includes('.npmrc')), `${file}: .npmrc is copied before npm ci`);
  assert.match(readFileSync(join(ROOT, '.npmrc'), 'utf8'), /^onnxruntime-node-install=skip$/m);
}

test('Dockerfile: pinned multi-stage build, non-root, healthcheck on /healthz, copies what it runs', () => {
  const c = structure('Dockerfile');
  const commands = readdirSync(join(ROOT, 'cli')).filter((f) => f.endsWith('.ts')).map((f) => `cli/${f}`);
  runsWhatItCopies('Dockerfile', c, ['bin/driftline.ts', ...commands]);
  assert.ok(providedBy(c.files, '/opt/driftline/docs/runbook.md'), 'the runbook the collector serves at /runbook');
  assert.ok(c.all('VOLUME').some((v) => v.args.includes('/var/lib/driftline')), 'state in a volume');
});

test('Dockerfile.jetson: JetPack 6 base images pinned, ONNX Runtime with CUDA + TensorRT + Node binding at the lockfile version, engine cache volume', () => {
  const c = structure('Dockerfile.jetson');
  // The edge commands: the agent, and what an operator runs on the box (baseline, detect, drift, review, evaluate).
  runsWhatItCopies('Dockerfile.jetson', c, ['bin/driftline.ts', ...['agent', 'baseline', 'detect', 'drift', 'review', 'evaluate'].map((n) => `cli/${n}.ts`)]);
  assert.ok(c.stages.some((s) => /^nvcr\.io\/nvidia\/l4t-jetpack:r36\./.test(s.from)), 'built on L4T r36 (JetPack 6)');
  const ort = c.stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('./build.sh')))!;
  const build = ort.instructions.find((i) => i.args.includes('./build.sh'))!.args;
  for (const f of ['--use_cuda', '--use_tensorrt', '--build_nodejs', '--build_shared_lib', 'CMAKE_CUDA_ARCHITECTURES=87']) assert.ok(build.includes(f), `ONNX Runtime built with ${f}`);
  const version = /ARG ORT_VERSION=(\S+)/.exec(ort.instructions.map((i) => `${i.keyword} ${i.args}`).join('\n'))?.[1];
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  assert.equal(version, lock.packages['node_modules/onnxruntime-node']!.version, 'ORT_VERSION is the onnxruntime-node version the lockfile installs (the binding replaces its own)');
  const volumes = c.all('VOLUME').flatMap((v) => (v.args.startsWith('[') ? (JSON.parse(v.args) as string[]) : v.args.split(' ')));
  assert.ok(volumes.includes('/var/lib/driftline/trt-cache'), 'a volume for the TensorRT engine cache');
  assert.ok(c.all('ENV').some((e) => e.args.includes('DRIFTLINE_MODEL__TENSORRT__CACHE_DIR=/var/lib/driftline/trt-cache')), 'the agent pointed at it (model.tensorrt.cacheDir)');
  const runtimeRuns = c.all('RUN').map((r) => r.args).join('\n');
  assert.match(runtimeRuns, /gstreamer1\.0-tools/, 'GStreamer in the runtime');
  assert.doesNotMatch(runtimeRuns, /build-essential|g\+\+|cmake/, 'no compiler in the runtime');
});

/** dockerfile-utils from node_modules (a devDependency: npm install --save-dev dockerfile-utils@0.16.3). */
function linter(): { validate: (text: string, settings: Record<string, number>) => { message: string; range: { start: { line: number } } }[] } {
  try {
    return createRequire(import.meta.url)('dockerfile-utils') as ReturnType<typeof linter>;
  } catch {
    assert.fail('dockerfile-utils is not installed: npm install --save-dev dockerfile-utils@0.16.3');
  }
}

const STRICT = Object.fromEntries(
  ['deprecatedMaintainer', 'directiveCasing', 'emptyContinuationLine', 'instructionCasing', 'instructionCmdMultiple', 'instructionEntrypointMultiple', 'instructionHealthcheckMultiple', 'instructionJSONInSingleQuotes', 'instructionWorkdirRelative'].map((k) => [k, 2]),
);

test('dockerfile-utils finds nothing in either Dockerfile, with every check an error', () => {
  const { validate } = linter();
  // The linter is live: it flags a broken file.
  const broken = validate('from node:20\nHEALTHCHECK CMD true\nHEALTHCHECK CMD false\nEXPOSE port\nWORKDIR relative\n', STRICT);
  assert.ok(broken.length >= 3, `the linter reports a broken file: ${JSON.stringify(broken.map((d) => d.message))}`);
  for (const file of ['Dockerfile', 'Dockerfile.jetson']) {
    const found = validate(readFileSync(join(ROOT, file), 'utf8'), STRICT);
    assert.deepEqual(found.map((d) => `${file}:${d.range.start.line + 1}: ${d.message}`), [], file);
  }
});

/** Runs the containers' healthcheck script as HEALTHCHECK does; its exit code. */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'deploy/docker/healthcheck.mjs')], { env: { ...process.env, DRIFTLINE_HEALTH_URL: url } }, (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0));
  });
}

test("the healthcheck script: 0 on the real collector's /healthz, 1 on an error status or nothing listening", async (t) => {
  const release = releaser(t);
  const c = await testCollector();
  release('collector', () => c.stop());
  assert.equal(await probe(`${c.httpUrl}/healthz`), 0, 'the collector answers /healthz');
  const sick = createServer((_req, res) => res.writeHead(503).end('wedged'));
  await new Promise<void>((r) => sick.listen(0, '127.0.0.1', r));
  release('503 server', () => new Promise<void>((r) => sick.close(() => r())));
  assert.equal(await probe(`http://127.0.0.1:${(sick.address() as AddressInfo).port}/healthz`), 1, 'a 503 is unhealthy');
  assert.equal(await probe(`http://127.0.0.1:${await freePort()}/healthz`), 1, 'nothing listening is unhealthy');
});
