/** `driftline agent`: run the edge agent from a YAML config file until SIGTERM or SIGINT. */
import { loadAgentConfig } from '../agent/config.js';
import { startAgent } from '../agent/main.js';
import { driftlineError } from '../lib/errors.js';
import { createLogger, logFormat } from '../lib/log.js';
import { redact } from '../lib/redact.js';
import { sdNotify } from '../lib/sd-notify.js';
import { checkAgent } from '../agent/checks.js';
import { parse } from './args.js';

export const summary = 'run the edge agent: cameras -> detector -> telemetry in SQLite';

export const usage = `driftline agent --config agent.yaml [--check]

Runs the cameras in the config through the detector and records per-frame telemetry in SQLite.
Environment variables DRIFTLINE_<SECTION>__<KEY> override the file (see docs/configuration.md).
SIGTERM or SIGINT drains the pipeline, flushes the store and exits 0. Under systemd (Type=notify,
systemd/driftline-agent.service) it says READY=1 once started, STOPPING=1 on stop, and pings the
watchdog while the pipeline is alive (the check behind /healthz).

Options:
  --config FILE   YAML configuration (required)
  --check         validate the configuration and every file and program it names (all problems at
                  once), print it with defaults filled in, and exit: 0 when the start would get past them
  --log-format F  auto (default: readable on a terminal, JSON when piped or under systemd), pretty or json;
                  also DRIFTLINE_LOG_FORMAT or log.format in the file
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, check: { type: 'boolean' }, 'log-format': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (typeof values.config !== 'string') throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--config FILE is required' });
  const { config, envUsed } = loadAgentConfig(values.config);
  if (values.check) {
    const checks = await checkAgent(config);
    for (const w of checks.warnings) process.stderr.write(`driftline: warning: ${w}\n`);
    checks.throwIfAny();
    process.stdout.write(JSON.stringify({ config: redact(config), envUsed, warnings: checks.warnings }, null, 2) + '\n');
    return 0;
  }
  const log = createLogger('agent', config.log.level, logFormat(values['log-format'], process.env, process.stderr.isTTY === true, config.log.format));
  if (envUsed.length) log.info({ envUsed }, 'configuration overridden from the environment');
  const agent = await startAgent(config, log);
  // Up: the model is loaded, the store open, the listener bound and the cameras started.
  // Listening for the stop before saying READY=1: a stop that follows READY at once is a clean stop.
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const systemd = sdNotify({ log });
  await systemd.ready(`running: ${config.cameras.length} camera(s) on ${agent.provider}`);
  const watchdog = systemd.watchdog(() => {
    const l = agent.liveness();
    return l.wedged.length ? l.message : undefined;
  });
  await signalled;
  log.info('stopping: draining the pipeline and flushing the store');
  watchdog.stop();
  await systemd.stopping('stopping: draining the pipeline and flushing the store');
  const counters = await agent.stop();
  log.info({ cameras: counters }, 'agent stopped');
  return 0;
}
