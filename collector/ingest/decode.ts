/**
 * Decoding one device message: the nesting scan, JSON.parse, the schema its topic's kind names, and
 * the identity its topic names; for a summary, first the fast path that does all four in one pass
 * over the bytes and builds nothing (protocol/fast-accept.ts), which leaves to the full path
 * whatever it does not accept. It is the costly part of ingest (most of a summary's CPU: parse
 * 4.4 KB, validate a few hundred values), and the only part that needs nothing but the message
 * itself: no store, no rules, no clock. So it runs in one of two places, decided once at start-up
 * (`ingest.decodeThread`): inline in Ingest.handle, or in the decode worker (decode-worker.ts),
 * which takes it off the thread that receives, stores and acknowledges. Both call this function,
 * so a message gets the same verdict and the same words on either.
 */
import { FastAcceptor } from '../../protocol/fast-accept.js';
import { check, MAX_DEPTH, nestedDeeperThan, SCHEMAS, SUMMARY_SCHEMA, SUMMARY_STATUSES, type EventMessage, type StatusMessage, type SummaryMessage } from '../../protocol/messages.js';
import type { ParsedTopic } from '../../protocol/topics.js';
import { DecodedSummary } from './decoded-summary.js';

export type DeviceMessage = StatusMessage | SummaryMessage | EventMessage;

/** Why decoding refused a message (a subset of Ingest's reject reasons). */
export const DECODE_REASONS = ['json', 'schema', 'identity'] as const;
export type DecodeReason = (typeof DECODE_REASONS)[number];

export type Decoded = { readonly ok: true; readonly message: DeviceMessage; readonly text: string } | { readonly ok: false; readonly reason: DecodeReason; readonly detail: string };

/**
 * Where decoding's time goes, ms, added to as it runs (Ingest's stage timing): parse is the scan and
 * JSON, or the whole fast path; validate is the schema and identity. `fast` counts the summaries
 * that took the fast path.
 */
export interface DecodeTimes {
  parse: number;
  validate: number;
  fast: number;
}

/** The fields of a summary that every summary's path reads, in the order acceptSummary gives them (status: its index in SUMMARY_STATUSES). */
export const SUMMARY_FIELDS = ['seq', 'start', 'end', 'frames', 'status'] as const;

/** The summary schema's fast path (protocol/fast-accept.ts), compiled at load. */
const FAST_SUMMARY = FastAcceptor.compile(SUMMARY_SCHEMA, { numbers: SUMMARY_FIELDS, strings: ['site', 'device', 'camera'], maxDepth: MAX_DEPTH });

/** Which walker the fast path runs (WebAssembly where the engine has it); undefined: no fast path. */
export const FAST_ENGINE = FAST_SUMMARY?.engine;

/**
 * A summary on the fast path: its SUMMARY_FIELDS when the acceptor takes it and it names its
 * topic's device and camera (a reused array: read it before the next call); undefined: the full
 * path decides, and says why when it refuses.
 */
export function acceptSummary(t: ParsedTopic, payload: Buffer): Float64Array | undefined {
  if (!FAST_SUMMARY?.accept(payload)) return undefined;
  const s = FAST_SUMMARY.strings;
  return s[0] === t.site && s[1] === t.device && s[2] === t.camera ? FAST_SUMMARY.numbers : undefined;
}

/** A summary from its SUMMARY_FIELDS at `f[at…]`, with the identity of its topic (checked to match) and its raw text. */
export function summaryFromFields(t: ParsedTopic, f: Float64Array, at: number, text: string): DecodedSummary {
  return new DecodedSummary(t.site, t.device, t.camera!, f[at]!, f[at + 1]!, f[at + 2]!, f[at + 3]!, SUMMARY_STATUSES[f[at + 4]!]!, text);
}

/**
 * Whether a parsed value holds U+0000 in a string or a key. PostgreSQL's JSONB cannot hold it, and
 * the collector reads stored payloads through it (epoch offsets, released quarantine, the
 * timeline): stored, such a message would refuse its burst on every delivery. No agent sends one.
 */
function holdsNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(holdsNul);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('\u0000') || holdsNul(x));
  return false;
}

/**
 * Decodes a message that arrived on topic `t`: a summary on the fast path when it can (unless
 * `fast` is false: the caller tried), else the full path. The nesting scan reads the bytes: JSON's
 * brackets, quotes and backslashes are ASCII, which UTF-8 never uses inside a multi-byte
 * character, so it finds what a scan of the text would.
 */
export function decode(t: ParsedTopic, payload: Buffer, times?: DecodeTimes, fast = true): Decoded {
  let t0 = times ? performance.now() : 0;
  if (fast && t.kind === 'summary') {
    const f = acceptSummary(t, payload);
    if (f) {
      const text = payload.toString('utf8');
      const message = summaryFromFields(t, f, 0, text);
      if (times) {
        times.parse += performance.now() - t0;
        times.fast++;
      }
      return { ok: true, message, text };
    }
  }
  if (nestedDeeperThan(payload)) return { ok: false, reason: 'schema', detail: `nested deeper than ${MAX_DEPTH} levels` };
  const text = payload.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: 'json', detail: (e as Error).message };
  }
  if (times) {
    const t = performance.now();
    times.parse += t - t0;
    t0 = t;
  }
  const v = check<DeviceMessage>(value, SCHEMAS[t.kind]);
  if (!v.ok) return { ok: false, reason: 'schema', detail: v.reason };
  // Only here: the fast path takes no string with an escape in it. The text test is a quick filter.
  if (text.includes('\\u0000') && holdsNul(value)) return { ok: false, reason: 'schema', detail: 'a string holds the character U+0000 (NUL), which the collector does not store' };
  const m = v.message;
  if (m.site !== t.site || m.device !== t.device || ('camera' in m && m.camera !== t.camera)) {
    return { ok: false, reason: 'identity', detail: `payload names ${m.site}/${m.device}${'camera' in m ? `/${m.camera}` : ''}` };
  }
  if (times) times.validate += performance.now() - t0;
  return { ok: true, message: m, text };
}
