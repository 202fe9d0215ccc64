/**
 * `driftline demo`: the whole system on one machine with nothing but `npm ci`. A collector with its
 * embedded MQTT broker, and one agent with two synthetic line cameras: one stays as commissioned,
 * the other's light fades. Every drift summary travels agent -> outbox -> MQTT -> collector, is
 * stored and judged by the alert rules; the live view below is read back from the collector, and
 * the drift alert fires for the fading camera only.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfig, DEFAULT_HTTP_PORT, SHIPPED_MODEL } from '../agent/config.js';
import { countedAt, pointConfig, profilePathFor, readProfile } from '../agent/drift/profile.js';
import { startAgent } from '../agent/main.js';
import { collectorConfig } from '../collector/config.js';
import { startCollector } from '../collector/main.js';
import type { AlertListener } from '../collector/rules/engine.js';
import type { AlertRecord } from '../collector/store/store.js';
import { isDriftlineError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { intFlag, numberFlag, parse, providersFlag } from './args.js';

export const summary = 'the whole system on one machine: two synthetic cameras, one drifting, a collector and its alert';

export const usage = `driftline demo [options]

Starts a collector (embedded MQTT broker, SQLite, HTTP API, metrics) and an agent with two synthetic
320x240 line cameras on the shipped detector: "line1-stable" stays as commissioned, the light on
"line2-drifting" fades after --drift-after seconds. Prints one line per drift window as the
collector receives it, and the alerts as they fire and resolve. Ctrl-C stops it cleanly.

Options:
  --seconds N       stop after N seconds (default: run until Ctrl-C)
  --window S        telemetry window, seconds (default 5)
  --fps N           frame rate of each camera (default 12: 60 frames a window, twice the minimum)
  --drift-after S   when the light on line2 starts to fade (default 20)
  --final-gain F    illumination at the end of the fade, 1 = nominal (default 0.55)
  --for S           how long drift must hold before the alert fires (default 15)
  --http-port P     collector HTTP port (default 8080, or any free port if it is taken; 0: any free port)
  --agent-port P    agent HTTP port: /healthz, /readyz, /metrics, review frames (default ${DEFAULT_HTTP_PORT}, or any free
                    port if it is taken; 0: any free port)
  --providers L     execution providers to try in order (default cpu)
  --data DIR        where the databases go (default: a new temporary folder)
`;

/** `port` on 127.0.0.1 when it can be opened now, else a free one (0 asks for a free one). */
function openPort(port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(port === 0 ? Promise.reject(new Error('no free port')) : openPort(0)));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const STABLE = 'line1-stable';
const DRIFTING = 'line2-drifting';

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    seconds: { type: 'string' },
    window: { type: 'string' },
    fps: { type: 'string' },
    'drift-after': { type: 'string' },
    'final-gain': { type: 'string' },
    for: { type: 'string' },
    'http-port': { type: 'string' },
    'agent-port': { type: 'string' },
    providers: { type: 'string' },
    data: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const seconds = numberFlag('seconds', values.seconds, 0, 0, 1e7);
  const window = numberFlag('window', values.window, 5, 1, 3600);
  const fps = numberFlag('fps', values.fps, 12, 1, 60);
  const driftAfter = numberFlag('drift-after', values['drift-after'], 20, 0, 1e6);
  const finalGain = numberFlag('final-gain', values['final-gain'], 0.55, 0, 4);
  const holdFor = numberFlag('for', values.for, 15, 0, 1e6);
  const httpPort = intFlag('http-port', values['http-port'], 8080, 0);
  const agentPort = intFlag('agent-port', values['agent-port'], DEFAULT_HTTP_PORT, 0);
  const providers = values.providers === undefined ? ['cpu'] : providersFlag(values.providers);
  const data = typeof values.data === 'string' ? values.data : await mkdtemp(join(tmpdir(), 'driftline-demo-'));
  const out = process.stdout;
  const log = createLogger('demo', 'error');

  const start = (port: number) =>
    startCollector(
      collectorConfig(
        {
          broker: { host: '127.0.0.1', port: 0, clientId: 'driftline-demo-collector' },
          store: { path: join(data, 'collector.db') },
          rules: { driftForSeconds: holdFor, driftClearSeconds: Math.max(2 * window, holdFor), evalIntervalSeconds: 1 },
          http: { host: '127.0.0.1', port },
        },
        {},
      ).config,
      log,
    );
  // The default port may be taken on a developer's machine: the demo then takes any free one.
  const collector = await start(httpPort).catch((e: unknown) => {
    if (values['http-port'] === undefined && isDriftlineError(e, 'DRIFTLINE_ERR_LISTEN')) return start(0);
    throw e;
  });
  const fade = 30; // seconds from nominal light to the final gain
  const camera = (name: string, seed: number, schedule: object[]): object => ({ name, source: { kind: 'synthetic', width: 320, height: 240, fps, seed, schedule } });
  // The agent's port is known before it starts: its birth message tells the collector where its
  // review frames are (mqtt.reviewUrl), for the links in the alert's evidence.
  // The shipped model at the operating point its profile was counted at (the model card's
  // recommended thresholds and suppression): windows then differ from the profile only by drift.
  const operatingPoint = pointConfig(countedAt(await readProfile(profilePathFor(SHIPPED_MODEL))));
  const startDemoAgent = (port: number): ReturnType<typeof startAgent> =>
    startAgent(
      agentConfig(
        {
          model: { providers, ...operatingPoint },
          // A demo's store is small: a small free-space floor keeps its disk-full reserve file at 1 MiB.
          store: { path: join(data, 'agent.db'), minFreeBytes: 2 << 20 },
          telemetry: { windowSeconds: window },
          mqtt: { url: collector.brokerUrl, site: 'demo-plant', device: 'edge-1', drainPerSecond: 50, reviewUrl: `http://127.0.0.1:${port}/review` },
          http: { host: '127.0.0.1', port },
          cameras: [
            camera(STABLE, 11, []),
            camera(DRIFTING, 12, [
              { at: 0, gain: 1 },
              { at: driftAfter, gain: 1 },
              { at: driftAfter + fade, gain: finalGain },
            ]),
          ],
        },
        {},
      ).config,
      log,
    );
  const requested = values['agent-port'] === undefined ? await openPort(agentPort) : agentPort === 0 ? await openPort(0) : agentPort;
  // Taken between the probe and the start: once more, on a free port (unless the port was asked for).
  const agent = await startDemoAgent(requested).catch(async (e: unknown) => {
    if (values['agent-port'] === undefined && isDriftlineError(e, 'DRIFTLINE_ERR_LISTEN')) return startDemoAgent(await openPort(0));
    throw e;
  });

  out.write(`Driftline demo: collector with an embedded MQTT broker at ${collector.brokerUrl}, one agent (${agent.provider}), two cameras.\n`);
  out.write(`  dashboard  ${collector.httpUrl}/\n  API        ${collector.httpUrl}/api/v1/alerts, /api/v1/cameras, /api/v1/devices\n  metrics    ${collector.httpUrl}/metrics\n  agent      ${agent.http!.url}/metrics, /healthz, /readyz, /review\n  data       ${data}\n`);
  out.write(`${STABLE} stays as commissioned; the light on ${DRIFTING} fades from 1.00 to ${finalGain.toFixed(2)} between ${driftAfter} s and ${driftAfter + fade} s.\n`);
  out.write(`A drift alert fires when a camera's windows stay at warn or alert for ${holdFor} s. Ctrl-C stops.\n\n`);
  out.write('     t  camera            seq  frames  verdict       top drift driver (score)\n');

  const t0 = Date.now();
  const fired: AlertRecord[] = [];
  const onAlert: AlertListener = (a, change) => {
    if (change === 'resend' || change === 'update') return;
    if (change === 'fire') fired.push(a);
    const cause = (a.evidence as { cause?: { class: string; reason: string; action: string } } | undefined)?.cause;
    out.write(`\n${change === 'fire' ? '>>> ALERT FIRING' : '<<< ALERT RESOLVED'} at ${((Date.now() - t0) / 1000).toFixed(0)} s [${a.severity}] ${a.annotations.summary}\n`);
    if (change === 'fire' && cause) out.write(`    cause: ${cause.class}: ${cause.reason}\n    next:  ${cause.action}\n`);
    out.write(`    ${collector.httpUrl}/api/v1/alerts/${a.id}\n\n`);
  };
  collector.alerts.on('alert', onAlert);
  const printed = new Map<string, number>();
  const view = setInterval(() => {
    for (const c of collector.store.cameras()) {
      const key = `${c.device}/${c.camera}`;
      const last = printed.get(key) ?? 0;
      if (c.lastSeq <= last) continue;
      for (const row of collector.store.timeline(c.site, c.device, c.camera, 0, 50).filter((r) => r.seq > last)) {
        const top = row.drivers?.[0];
        out.write(`${((Date.now() - t0) / 1000).toFixed(0).padStart(6)}s ${c.camera.padEnd(17)} ${String(row.seq).padStart(4)}  ${String(row.frames).padStart(6)}  ${row.status.padEnd(12)}  ${top ? `${top.key} ${top.value.toPrecision(3)}` : ''}\n`);
      }
      printed.set(key, c.lastSeq);
    }
  }, 500);

  await new Promise<void>((resolve) => {
    const timer = seconds > 0 ? setTimeout(resolve, seconds * 1000) : undefined;
    const stop = (): void => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(view);
  out.write('\nStopping: agent (flushing its outbox), then the collector.\n');
  collector.alerts.off('alert', onAlert); // the agent's clean goodbye would raise deviceOffline
  await agent.stop();
  await new Promise((r) => setTimeout(r, 300));
  await collector.stop();
  const drift = fired.filter((a) => a.rule === 'drift');
  const byCamera = (cam: string): number => drift.filter((a) => a.labels.camera === cam).length;
  out.write(`Drift alerts fired: ${DRIFTING} ${byCamera(DRIFTING)}, ${STABLE} ${byCamera(STABLE)}. Data kept in ${data}.\n`);
  return 0;
}
