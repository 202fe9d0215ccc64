/** `driftline agent`: run the edge agent from a YAML config file until SIGTERM or SIGINT. */
import { loadAgentConfig } from '../agent/config.js';
import { startAgent } from '../agent/main.js';
import { driftlineError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { redact } from '../lib/redact.js';
import { parse } from './args.js';

export const summary = 'run the edge agent: cameras -> detector -> telemetry in SQLite';

export const usage = `driftline agent --config agent.yaml [--check]

Runs the cameras in the config through the detector and records per-frame telemetry in SQLite.
Environment variables DRIFTLINE_<SECTION>__<KEY> override the file (see docs/configuration.md).
SIGTERM or SIGINT drains the pipeline, flushes the store and exits 0.

Options:
  --config FILE   YAML configuration (required)
  --check         validate the configuration, print it with defaults filled in, and exit
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (typeof values.config !== 'string') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--config FILE is required' });
  const { config, envUsed } = loadAgentConfig(values.config);
  if (values.check) {
    process.stdout.write(JSON.stringify({ config: redact(config), envUsed }, null, 2) + '\n');
    return 0;
  }
  const log = createLogger('agent', config.log.level);
  if (envUsed.length) log.info({ envUsed }, 'configuration overridden from the environment');
  const agent = await startAgent(config, log);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('stopping: draining the pipeline and flushing the store');
  const counters = await agent.stop();
  log.info({ cameras: counters }, 'agent stopped');
  return 0;
}
