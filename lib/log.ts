/**
 * One pino logger factory so every component logs the same way, to stderr. The format is decided
 * once, at construction: `json` (one object a line, for journald, Loki and jq) or `pretty` (a line a
 * person reads: time, level, component, message, then key=value). `auto`, the default, is pretty on
 * a terminal and JSON when piped or under systemd. Chosen by, first to last: --log-format,
 * DRIFTLINE_LOG_FORMAT, the config file's log.format, auto.
 */
import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { driftlineError } from './errors.js';
import type { Field } from './schema.js';

export type { Logger };

export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The format to use: the flag, else DRIFTLINE_LOG_FORMAT, else the config file's setting, else auto
 * (pretty on a terminal not run by systemd).
 */
export function logFormat(flag: unknown, env: NodeJS.ProcessEnv = process.env, tty: boolean = process.stderr.isTTY === true, file: LogFormat = 'auto'): 'pretty' | 'json' {
  const raw = flag ?? env.DRIFTLINE_LOG_FORMAT ?? file;
  if (!(LOG_FORMATS as readonly unknown[]).includes(raw)) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `${flag === undefined ? 'DRIFTLINE_LOG_FORMAT' : '--log-format'} must be one of ${LOG_FORMATS.join(', ')}, got ${String(raw)}` });
  }
  if (raw !== 'auto') return raw as 'pretty' | 'json';
  // systemd sets INVOCATION_ID (and JOURNAL_STREAM when stderr goes to the journal): JSON there.
  return tty && !env.INVOCATION_ID && !env.JOURNAL_STREAM ? 'pretty' : 'json';
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO', '\x1b[32m'],
  40: ['WARN', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[41m'],
};
const SKIP = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON line as a line for people: `12:03:04.567 INFO  agent: message key=value …`. */
export function prettyLine(json: string, colour: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const [label, tint] = LEVELS[o.level as number] ?? [String(o.level), ''];
  const t = new Date(o.time as number);
  const time = `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}:${String(t.getSeconds()).padStart(2, '0')}.${String(t.getMilliseconds()).padStart(3, '0')}`;
  const fields = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  const lvl = colour ? `${tint}${label.padEnd(5)}\x1b[0m` : label.padEnd(5);
  return `${time} ${lvl} ${o.name ?? ''}: ${o.msg ?? ''}${fields ? ` ${colour ? '\x1b[2m' : ''}${fields}${colour ? '\x1b[0m' : ''}` : ''}\n`;
}

/** A synchronous destination that writes each line in the chosen format to stderr. */
function destination(format: 'pretty' | 'json'): { write(s: string): void } {
  if (format === 'json') return pino.destination({ fd: 2, sync: true });
  const colour = process.stderr.isTTY === true && !process.env.NO_COLOR;
  return { write: (s: string) => void writeSync(2, prettyLine(s, colour)) };
}

export function createLogger(name: string, level: string = process.env.DRIFTLINE_LOG_LEVEL ?? 'info', format: 'pretty' | 'json' = logFormat(undefined)): Logger {
  return pino({ name, level, base: { name } }, destination(format));
}

/** A logger that drops everything; for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The `log` section every config file has. */
export const LOG_SECTION = {
  kind: 'object',
  doc: 'logging',
  fields: {
    level: { kind: 'string', oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', doc: 'pino level' },
    format: { kind: 'string', oneOf: LOG_FORMATS, default: 'auto', doc: 'auto: readable lines on a terminal, JSON when piped or under systemd; pretty; json. --log-format and DRIFTLINE_LOG_FORMAT take precedence' },
  },
} as const satisfies Field;
