/** A logger that keeps its lines, parsed, for tests that assert what was logged and at what level. */
import { pino } from 'pino';
import type { Logger } from '../../lib/log.js';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** pino's level numbers, by name. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export function logLines(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}
