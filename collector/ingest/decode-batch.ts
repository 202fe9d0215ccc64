/**
 * The decode worker's wire format: a burst of messages goes over as one buffer (transferred, not
 * copied), and comes back as one reply. One postMessage per burst, not per message: a burst at full
 * ingest is a few hundred summaries.
 *
 * An entry is a 7-byte header (kind: u8, topic bytes: u16, payload bytes: u32, little-endian), the
 * topic in UTF-8 and the payload as received. The reply gives each entry a code (0: decoded,
 * 1 + index into DECODE_REASONS: refused) and, for a decoded summary, the five fields every
 * summary's path reads (decode.ts SUMMARY_FIELDS); a refusal's detail and a decoded status or event (rare,
 * small) come whole.
 */
import type { TopicKind } from '../../protocol/topics.js';
import type { DeviceMessage } from './decode.js';

export const KINDS: readonly TopicKind[] = ['status', 'summary', 'event'];
const KIND_CODE: Readonly<Record<TopicKind, number>> = { status: 0, summary: 1, event: 2 };
export const HEADER_BYTES = 7;
/** Buffers larger than this are not kept for the next bursts, nor started with. */
export const SPARE_MAX_BYTES = 8 << 20;

export interface DecodeRequest {
  readonly id: number;
  readonly buffer: ArrayBuffer;
  /** Bytes of `buffer` in use. */
  readonly length: number;
  readonly count: number;
  /** Time parse and validate (Ingest.startTiming). */
  readonly time: boolean;
}

export interface DecodeReply {
  readonly id: number;
  /** The request's buffer, given back for the next burst. */
  readonly buffer: ArrayBuffer;
  readonly codes: Uint8Array;
  /** SUMMARY_FIELDS.length numbers per entry; set for decoded summaries only. */
  readonly fields: Float64Array;
  readonly details: (readonly [number, string])[];
  readonly messages: (readonly [number, DeviceMessage])[];
  /** Summaries that took the fast path (decode.ts acceptSummary); counted when timed. */
  readonly fast: number;
  readonly parseMs: number;
  readonly validateMs: number;
  /** The worker could not read the batch at all (a bug): every entry is refused with this. */
  readonly error?: string;
}

/**
 * Builds a burst's buffer, growing it when a message does not fit, up to `maxBytes`: a burst of
 * large payloads (the broker may send up to its in-flight window at once, each up to
 * ingest.maxPayloadBytes) must not make the buffer, and the spares kept of it, hundreds of MB.
 */
export class BatchWriter {
  private bytes: Buffer;
  private view: DataView;
  length = 0;
  count = 0;

  constructor(
    private readonly initialBytes: number,
    private readonly maxBytes: number,
  ) {
    this.bytes = fresh(initialBytes);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Adds a message; returns where its entry starts in the buffer (BatchReader reads it back), or -1 when the burst is full. */
  add(kind: TopicKind, topic: string, payload: Uint8Array): number {
    const need = HEADER_BYTES + topic.length * 3 + payload.length;
    if (this.length + need > this.maxBytes) return -1;
    if (this.length + need > this.bytes.length) this.grow(this.length + need);
    const at = this.length;
    const topicBytes = this.bytes.write(topic, at + HEADER_BYTES, 'utf8');
    this.bytes[at] = KIND_CODE[kind];
    this.view.setUint16(at + 1, topicBytes, true);
    this.view.setUint32(at + 3, payload.length, true);
    const payloadAt = at + HEADER_BYTES + topicBytes;
    this.bytes.set(payload, payloadAt);
    this.length = payloadAt + payload.length;
    this.count++;
    return at;
  }

  /**
   * Hands the buffer over (to be transferred) and starts again on `next` (a buffer given back), or on
   * a new one when there is none as large: a new buffer per burst (megabytes) would be garbage that
   * sets off collections.
   */
  take(next?: ArrayBuffer): { buffer: ArrayBuffer; length: number; count: number } {
    const out = { buffer: this.bytes.buffer as ArrayBuffer, length: this.length, count: this.count };
    // As large as the last burst needed, but one outsized burst does not set the size for good.
    const size = Math.max(this.initialBytes, Math.min(this.bytes.length, SPARE_MAX_BYTES));
    this.bytes = next && next.byteLength >= size ? Buffer.from(next) : fresh(size);
    this.view = new DataView(this.bytes.buffer);
    this.length = 0;
    this.count = 0;
    return out;
  }

  private grow(atLeast: number): void {
    let size = this.bytes.length * 2;
    while (size < atLeast) size *= 2;
    size = Math.min(size, Math.max(atLeast, this.maxBytes));
    const bigger = fresh(size);
    this.bytes.copy(bigger, 0, 0, this.length);
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }
}

/** A buffer of its own (transferable: not a slice of Node's pool), not zero-filled: every byte sent is written first. */
const fresh = (bytes: number): Buffer => Buffer.allocUnsafeSlow(bytes);

/** Reads back the entry that starts at a given byte of a burst's buffer (BatchWriter.add's answer). */
export class BatchReader {
  private readonly bytes: Buffer;
  private readonly view: DataView;

  constructor(buffer: ArrayBuffer) {
    this.bytes = Buffer.from(buffer);
    this.view = new DataView(buffer);
  }

  /** The payload as text (UTF-8, as Ingest decodes it). */
  payload(start: number): string {
    const at = start + HEADER_BYTES + this.view.getUint16(start + 1, true);
    return this.bytes.toString('utf8', at, at + this.view.getUint32(start + 3, true));
  }
}

/** Calls `each` for every entry of a burst's buffer, in order. */
export function readBatch(buffer: ArrayBuffer, length: number, each: (i: number, kind: TopicKind, topic: string, payload: Buffer) => void): void {
  const bytes = Buffer.from(buffer, 0, length);
  const view = new DataView(buffer);
  let at = 0;
  for (let i = 0; at < length; i++) {
    const kind = KINDS[bytes[at]!];
    const topicBytes = view.getUint16(at + 1, true);
    const payloadBytes = view.getUint32(at + 3, true);
    const topicAt = at + HEADER_BYTES;
    const payloadAt = topicAt + topicBytes;
    if (kind === undefined || payloadAt + payloadBytes > length) throw new Error(`decode batch: entry ${i} at byte ${at} is malformed (kind ${bytes[at]}, ${topicBytes} + ${payloadBytes} bytes past ${length})`);
    each(i, kind, bytes.toString('utf8', topicAt, payloadAt), bytes.subarray(payloadAt, payloadAt + payloadBytes));
    at = payloadAt + payloadBytes;
  }
}
