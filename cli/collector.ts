/** `driftline collector`: the central service, until SIGTERM or SIGINT. */
import { loadCollectorConfig } from '../collector/config.js';
import { startCollector } from '../collector/main.js';
import { startReplica } from '../collector/cluster/replica.js';
import { createLogger, logFormat } from '../lib/log.js';
import { redact } from '../lib/redact.js';
import { sdNotify } from '../lib/sd-notify.js';
import { checkCollector } from '../collector/checks.js';
import { parse } from './args.js';

export const summary = 'run the collector: MQTT ingest, drift alerts, HTTP API and metrics';

export const usage = `driftline collector [--config collector.yaml] [--check]

Ingests the summaries of every agent from MQTT (an embedded broker when broker.url is empty),
stores them in SQLite, raises alerts (Alertmanager, webhook, MQTT) and serves the HTTP API,
dashboard and /metrics. With store.url (PostgreSQL) it runs as one of any number of replicas on
that database: each ingests its share, one leads and alerts (docs/scale.md). Environment variables DRIFTLINE_COLLECTOR_<SECTION>__<KEY> override the
file (see docs/configuration.md). SIGTERM or SIGINT stops it cleanly. Under systemd (Type=notify,
systemd/driftline-collector.service) it says READY=1 once the store is open and the HTTP API
listens, STOPPING=1 on stop, and pings the watchdog while its event loop turns.

Options:
  --config FILE   YAML configuration (default: built-in defaults)
  --check         validate the configuration and every file it names (all problems at once), warn
                  about ports already taken, print it with defaults filled in (secrets hidden), and exit
  --log-format F  auto (default: readable on a terminal, JSON when piped or under systemd), pretty or json;
                  also DRIFTLINE_LOG_FORMAT or log.format in the file
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, check: { type: 'boolean' }, 'log-format': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const { config, envUsed } = loadCollectorConfig(typeof values.config === 'string' ? values.config : undefined);
  if (values.check) {
    const checks = await checkCollector(config);
    for (const w of checks.warnings) process.stderr.write(`driftline: warning: ${w}\n`);
    checks.throwIfAny();
    process.stdout.write(JSON.stringify({ config: redact(config), envUsed, warnings: checks.warnings }, null, 2) + '\n');
    return 0;
  }
  const log = createLogger('collector', config.log.level, logFormat(values['log-format'], process.env, process.stderr.isTTY === true, config.log.format));
  if (envUsed.length) log.info({ envUsed }, 'configuration overridden from the environment');
  const c = config.store.url ? await startReplica(config, log) : await startCollector(config, log);
  // Listening for the stop before saying READY=1: a stop that follows READY at once is a clean stop.
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const systemd = sdNotify({ log });
  await systemd.ready(`running: HTTP on ${c.httpUrl}`);
  // The collector's liveness is its event loop turning (what its /healthz proves by answering): a
  // loop blocked for WatchdogSec runs no tick, sends no ping, and systemd restarts it.
  const watchdog = systemd.watchdog(() => undefined);
  await signalled;
  log.info('stopping');
  watchdog.stop();
  await systemd.stopping();
  await c.stop();
  log.info('collector stopped');
  return 0;
}
