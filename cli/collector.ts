/** `driftline collector`: the central service, until SIGTERM or SIGINT. */
import { loadCollectorConfig } from '../collector/config.js';
import { startCollector } from '../collector/main.js';
import { createLogger } from '../lib/log.js';
import { redact } from '../lib/redact.js';
import { parse } from './args.js';

export const summary = 'run the collector: MQTT ingest, drift alerts, HTTP API and metrics';

export const usage = `driftline collector [--config collector.yaml] [--check]

Ingests the summaries of every agent from MQTT (an embedded broker when broker.url is empty),
stores them in SQLite, raises alerts (Alertmanager, webhook, MQTT) and serves the HTTP API,
dashboard and /metrics. Environment variables DRIFTLINE_COLLECTOR_<SECTION>__<KEY> override the
file (see docs/configuration.md). SIGTERM or SIGINT stops it cleanly.

Options:
  --config FILE   YAML configuration (default: built-in defaults)
  --check         validate the configuration, print it with defaults filled in (secrets hidden), and exit
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const { config, envUsed } = loadCollectorConfig(typeof values.config === 'string' ? values.config : undefined);
  if (values.check) {
    process.stdout.write(JSON.stringify({ config: redact(config), envUsed }, null, 2) + '\n');
    return 0;
  }
  const log = createLogger('collector', config.log.level);
  if (envUsed.length) log.info({ envUsed }, 'configuration overridden from the environment');
  const c = await startCollector(config, log);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('stopping');
  await c.stop();
  log.info('collector stopped');
  return 0;
}
