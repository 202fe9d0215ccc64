/** `driftline collector`: the central service, until SIGTERM or SIGINT. */
import { checkCollector } from '../collector/checks.js';
import { startReplica, type RunningReplica } from '../collector/cluster/replica.js';
import { loadCollectorConfig } from '../collector/config.js';
import { startCollector, type RunningCollector } from '../collector/main.js';
import { runService } from './service.js';

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

export function run(argv: string[]): Promise<number> {
  return runService(argv, {
    name: 'collector',
    usage,
    load: (file) => loadCollectorConfig(file),
    check: (config) => checkCollector(config),
    start: (config, log): Promise<RunningCollector | RunningReplica> => (config.store.url ? startReplica(config, log) : startCollector(config, log)),
    ready: (c) => `running: HTTP on ${c.httpUrl}`,
    // The collector's liveness is its event loop turning (what its /healthz proves by answering): a
    // loop blocked for WatchdogSec runs no tick, sends no ping, and systemd restarts it.
    alive: () => () => undefined,
    stopping: { log: 'stopping' },
    stop: async (c, log) => {
      await c.stop();
      log.info('collector stopped');
    },
  });
}
