/**
 * The decode worker: decodes each burst of device messages (decode.ts: nesting scan, JSON.parse,
 * schema, identity) off the thread that receives, stores and acknowledges them, and answers with
 * what that thread needs (decode-batch.ts). It holds no state but a cache of parsed topics and the
 * fast path's learned key order, so a worker that dies loses nothing: its bursts are refused and
 * the broker delivers them again.
 */
import { parentPort } from 'node:worker_threads';
import { topicParser } from '../../protocol/topics.js';
import { SUMMARY_STATUSES, type SummaryMessage } from '../../protocol/messages.js';
import { readBatch, type DecodeReply, type DecodeRequest } from './decode-batch.js';
import { acceptSummary, decode, DECODE_REASONS, SUMMARY_FIELDS, type DecodeTimes, type DeviceMessage } from './decode.js';

const port = parentPort!;
const FIELDS = SUMMARY_FIELDS.length;
const topicOf = topicParser();

port.on('message', (r: DecodeRequest) => {
  const codes = new Uint8Array(r.count);
  const fields = new Float64Array(r.count * FIELDS);
  const details: (readonly [number, string])[] = [];
  const messages: (readonly [number, DeviceMessage])[] = [];
  const times: DecodeTimes | undefined = r.time ? { parse: 0, validate: 0, fast: 0 } : undefined;
  let error: string | undefined;
  try {
    readBatch(r.buffer, r.length, (i, kind, topic, payload) => {
      const t = topicOf(topic);
      // The receiving thread parsed the same topic before sending it: a mismatch is a bug here.
      if (!t || t.kind !== kind) throw new Error(`decode batch: entry ${i}'s topic does not parse as a ${kind} topic`);
      if (kind === 'summary') {
        // The fast path: the fields straight from the bytes, nothing parsed into objects.
        const t0 = times ? performance.now() : 0;
        const f = acceptSummary(t, payload);
        if (times) times.parse += performance.now() - t0;
        if (f) {
          fields.set(f, i * FIELDS);
          if (times) times.fast++;
          return;
        }
      }
      const d = decode(t, payload, times, false);
      if (!d.ok) {
        codes[i] = DECODE_REASONS.indexOf(d.reason) + 1;
        details.push([i, d.detail]);
      } else if (kind === 'summary') {
        const m = d.message as SummaryMessage;
        const at = i * FIELDS;
        fields[at] = m.seq;
        fields[at + 1] = m.start;
        fields[at + 2] = m.end;
        fields[at + 3] = m.frames;
        fields[at + 4] = SUMMARY_STATUSES.indexOf(m.status);
      } else messages.push([i, d.message]);
    });
  } catch (e) {
    error = (e as Error).message;
  }
  const reply: DecodeReply = { id: r.id, buffer: r.buffer, codes, fields, details, messages, fast: times?.fast ?? 0, parseMs: times?.parse ?? 0, validateMs: times?.validate ?? 0, ...(error !== undefined ? { error } : {}) };
  port.postMessage(reply, [r.buffer, codes.buffer, fields.buffer]);
});
port.postMessage('ready');
