/** `driftline agent`: run the edge agent from a YAML config file until SIGTERM or SIGINT. */
import { checkAgent } from '../agent/checks.js';
import { loadAgentConfig } from '../agent/config.js';
import { startAgent } from '../agent/main.js';
import { driftlineError } from '../lib/errors.js';
import { runService } from './service.js';

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

export function run(argv: string[]): Promise<number> {
  return runService(argv, {
    name: 'agent',
    usage,
    load: (file) => {
      if (file === undefined) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--config FILE is required' });
      return loadAgentConfig(file);
    },
    check: (config) => checkAgent(config),
    start: startAgent,
    // Up: the model is loaded, the store open, the listener bound and the cameras started.
    ready: (agent, config) => `running: ${config.cameras.length} camera(s) on ${agent.provider}`,
    alive: (agent) => () => {
      const l = agent.liveness();
      return l.wedged.length ? l.message : undefined;
    },
    stopping: { log: 'stopping: draining the pipeline and flushing the store', status: 'stopping: draining the pipeline and flushing the store' },
    stop: async (agent, log) => {
      const counters = await agent.stop();
      log.info({ cameras: counters }, 'agent stopped');
    },
  });
}
