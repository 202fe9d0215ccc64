/** One pino logger factory so every component logs the same way (JSON to stderr by default). */
import { pino, type Logger } from 'pino';
import type { Field } from './schema.js';

export type { Logger };

export function createLogger(name: string, level: string = process.env.DRIFTLINE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { name } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything; for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The `log` section every config file has. */
export const LOG_SECTION: Field = {
  kind: 'object',
  doc: 'logging',
  fields: { level: { kind: 'string', oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', doc: 'pino level' } },
};
