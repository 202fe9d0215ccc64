/**
 * One handler per message kind: store it, then let the rules see it. Duplicates stop at the store.
 * The rules run inside runRules: whatever they throw is contained by Ingest, after the store.
 *
 * Sequence sanity for summaries (docs/mqtt.md, "Sequence numbers"): a seq at or below the camera's
 * last is a duplicate; one more than `maxSeqJump` ahead is quarantined (stored apart, counted, not
 * seen by rules) until the device's following summaries continue from it; a gap is counted once,
 * and at most `maxSeqJump`.
 *
 * A summary whose window times fail the collector's check (ingest.ts: ordered, not ahead of the
 * collector's clock beyond the skew) is quarantined too, with the reason; it is never released.
 *
 * A birth with a new `epoch` means the device's seqs started again at 1 (its database is new): from
 * then on its seqs are stored after the highest the collector has, so they count as new.
 */
import type { Logger } from '../../lib/log.js';
import type { SummaryMessage } from '../../protocol/messages.js';
import type { RuleEngine } from '../rules/engine.js';
import type { CollectorStore } from '../store/store.js';
import { lap, RuleFailure, runRules, type Handled, type Handlers, type StageTimes } from './ingest.js';

export interface SequencePolicy {
  /** A seq further than this ahead of the camera's last is quarantined (default 10,000). */
  readonly maxSeqJump: number;
}

export const DEFAULT_SEQUENCE: SequencePolicy = { maxSeqJump: 10_000 };

/**
 * The message in the collector's seq space: the device's seq plus its camera's epoch offset (0: the
 * message itself). The copy is made from the raw text, not by spreading the message: a summary from
 * the decode worker (DecodedSummary) holds most of its body behind getters that a spread skips.
 */
function shifted<T extends { seq: number }>(m: T, raw: string, offset: number): T {
  return offset === 0 ? m : { ...(JSON.parse(raw) as T), seq: m.seq + offset };
}

/** `gaps` counts summaries missing between seqs; undefined when replicas share the fleet (each sees gaps). */
export function handlers(store: CollectorStore, rules: RuleEngine, log: Logger, gaps: { count: number } | undefined, seq: SequencePolicy = DEFAULT_SEQUENCE): Handlers {
  const gap = (m: SummaryMessage, after: number): void => {
    if (!gaps || after === 0 || m.seq <= after + 1) return;
    gaps.count += Math.min(m.seq - after - 1, seq.maxSeqJump);
    log.warn({ device: `${m.site}/${m.device}`, camera: m.camera, after, seq: m.seq }, "summaries missing before this one (lost between the agent and here: the agent's outbox full, or a broker session lost; the agent's driftline_agent_outbox_dropped_total tells which)");
  };
  /** Stage timing (Ingest.startTiming); undefined: off, and each stage costs one branch. */
  let st: StageTimes | undefined;
  const done = (t: number, stage: 'dedupe' | 'store', h: Handled): Handled => {
    if (st) lap(st, stage, t);
    return h;
  };
  return {
    status(m, now) {
      const previous = store.device(m.site, m.device)?.status;
      // Against the last epoch it announced, not its last status's: only a birth announces one (an
      // older agent's offline status names none; a current one's names it, for the order only).
      const known = m.state === 'online' && m.epoch ? store.lastEpoch(m.site, m.device) : undefined;
      if (known && m.epoch !== known) {
        store.newEpoch(m.site, m.device);
        log.warn({ device: `${m.site}/${m.device}`, epoch: m.epoch, previous: known }, 'the device started its sequence numbers again (a new epoch): its next summaries are stored after the last ones');
      }
      store.putStatus(m, now);
      runRules(() => rules.onStatus(m, previous, now));
    },
    summary(received, now, receivedRaw, timeProblem) {
      // The common case allocates nothing here: no epoch offset, so the message and its raw text as received.
      let t = st ? performance.now() : 0;
      const offset = store.seqOffsets(received.site, received.device, received.camera).summary;
      const m = shifted(received, receivedRaw, offset);
      const raw = offset === 0 ? receivedRaw : JSON.stringify(m);
      const last = store.lastSeq(m.site, m.device, m.camera);
      if (last > 0 && m.seq <= last) return done(t, 'dedupe', 'duplicate');
      if (timeProblem) {
        if (st) t = lap(st, 'dedupe', t);
        if (store.quarantine(m, now, raw, `time: ${timeProblem}`) === 'duplicate') return done(t, 'store', 'duplicate');
        log.warn({ device: `${m.site}/${m.device}`, camera: m.camera, seq: m.seq, reason: timeProblem }, 'summary quarantined: its window times fail the clock check');
        return done(t, 'store', 'quarantined');
      }
      if (last > 0 && m.seq > last + seq.maxSeqJump) {
        if (st) t = lap(st, 'dedupe', t);
        const top = store.quarantineTop(m.site, m.device, m.camera);
        if (top === 0 || m.seq !== top + 1) {
          const reason = `seq ${m.seq} is ${m.seq - last} past the camera's last (${last}); more than ${seq.maxSeqJump}`;
          if (store.quarantine(m, now, raw, reason) === 'duplicate') return done(t, 'store', 'duplicate');
          log.warn({ device: `${m.site}/${m.device}`, camera: m.camera, last, seq: m.seq }, 'summary quarantined: its seq jumps too far ahead');
          return done(t, 'store', 'quarantined');
        }
        // The device goes on from the jump: it was real (an outbox that lost rows, say). Release it.
        const released = store.releaseQuarantine(m.site, m.device, m.camera);
        if (released[0]) gap(released[0], last);
        log.warn({ device: `${m.site}/${m.device}`, camera: m.camera, released: released.length, from: released[0]?.seq }, 'quarantined summaries released: the device continues from them');
        if (st) t = lap(st, 'store', t);
        for (const r of released) runRules(() => rules.onSummary(r, now));
        if (st) t = lap(st, 'rules', t);
      }
      if (st) t = lap(st, 'dedupe', t);
      const { result, previousSeq } = store.addSummary(m, now, raw);
      if (st) t = lap(st, 'store', t);
      if (result === 'duplicate') return 'duplicate';
      gap(m, previousSeq);
      try {
        rules.onSummary(m, now);
      } catch (e) {
        throw new RuleFailure(e);
      } finally {
        if (st) lap(st, 'rules', t);
      }
      return 'stored';
    },
    event(received, now, receivedRaw) {
      const offset = store.seqOffsets(received.site, received.device, received.camera).event;
      const m = shifted(received, receivedRaw, offset);
      if (store.addEvent(m, now, offset === 0 ? receivedRaw : JSON.stringify(m)) === 'duplicate') return 'duplicate';
      runRules(() => rules.onEvent(m, now));
      return 'stored';
    },
    time(stages) {
      st = stages;
    },
  };
}
