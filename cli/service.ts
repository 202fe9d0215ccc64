/**
 * What the long-running commands (`driftline agent`, `driftline collector`) share: parse the flags,
 * load the config, `--check` and exit, or start the service with its logger, say READY=1 to systemd,
 * ping the watchdog while the service is alive, and on SIGTERM or SIGINT say STOPPING=1 and stop it.
 * Each command says only what differs: its config, its checks, its start and stop, and its words.
 */
import type { Checks } from '../lib/checks.js';
import { createLogger, logFormat, type LogFormat, type Logger } from '../lib/log.js';
import { redact } from '../lib/redact.js';
import { sdNotify, type Alive } from '../lib/sd-notify.js';
import { parse } from './args.js';

export interface ServiceConfig {
  readonly log: { readonly level: string; readonly format: LogFormat };
}

export interface Service<C extends ServiceConfig, R> {
  /** The logger's name. */
  readonly name: string;
  readonly usage: string;
  /** Reads the configuration (`--config FILE`, undefined without the flag) with its environment overrides. */
  load(file: string | undefined): { readonly config: C; readonly envUsed: readonly string[] };
  /** Everything `--check` looks at, all problems at once. */
  check(config: C): Promise<Pick<Checks, 'warnings' | 'throwIfAny'>>;
  start(config: C, log: Logger): Promise<R>;
  /** STATUS= with READY=1, once started. */
  ready(running: R, config: C): string;
  /** The watchdog's liveness check (lib/sd-notify.ts). */
  alive(running: R): Alive;
  /** Logged when the stop begins; `status` goes with STOPPING=1 when given. */
  readonly stopping: { readonly log: string; readonly status?: string };
  /** Stops the service and logs that it stopped. */
  stop(running: R, log: Logger): Promise<void>;
}

/** Runs `service` with the command line `argv` until SIGTERM or SIGINT; resolves the exit code. */
export async function runService<C extends ServiceConfig, R>(argv: string[], service: Service<C, R>): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, check: { type: 'boolean' }, 'log-format': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(service.usage);
    return 0;
  }
  const { config, envUsed } = service.load(typeof values.config === 'string' ? values.config : undefined);
  if (values.check) {
    const checks = await service.check(config);
    for (const w of checks.warnings) process.stderr.write(`driftline: warning: ${w}\n`);
    checks.throwIfAny();
    process.stdout.write(JSON.stringify({ config: redact(config), envUsed, warnings: checks.warnings }, null, 2) + '\n');
    return 0;
  }
  const log = createLogger(service.name, config.log.level, logFormat(values['log-format'], process.env, process.stderr.isTTY === true, config.log.format));
  // Node prints a process warning (a library's deprecation notice: node-postgres's for ~/.pgpass) as
  // plain text on stderr, a line a JSON log reader cannot parse. It becomes a log line instead, unless
  // warnings are off (--no-warnings, NODE_NO_WARNINGS=1: Node then listens for none) or sent to a
  // file (--redirect-warnings, which Node's own listener does). --trace-warnings adds the stack.
  const nodeFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (process.listenerCount('warning') > 0 && !nodeFlags.includes('--redirect-warnings')) {
    process.removeAllListeners('warning');
    process.on('warning', (w: Error & { code?: string }) => log.warn({ warning: w.name, ...(w.code ? { code: w.code } : {}), ...((process as { traceProcessWarnings?: boolean }).traceProcessWarnings ? { stack: w.stack } : {}) }, w.message));
  }
  if (envUsed.length) log.info({ envUsed }, 'configuration overridden from the environment');
  const running = await service.start(config, log);
  // Listening for the stop before saying READY=1: a stop that follows READY at once is a clean stop.
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const systemd = sdNotify({ log });
  await systemd.ready(service.ready(running, config));
  const watchdog = systemd.watchdog(service.alive(running));
  await signalled;
  log.info(service.stopping.log);
  watchdog.stop();
  await systemd.stopping(service.stopping.status);
  await service.stop(running, log);
  return 0;
}
