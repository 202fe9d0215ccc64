/**
 * Ingest's handlers on PostgreSQL: each message is staged in the burst's transaction and learns at
 * its commit what became of it. The sequence rules (dedupe, quarantine, epochs) run in the database
 * (store/postgres-schema.ts), where every replica's share of a camera meets; the rules do not run
 * here but on the leader, which reads what was stored (leader.ts).
 *
 * Gaps are counted whichever replica stored the camera's previous summary: the database says which
 * seq came before. Replicas split a camera's summaries, so a camera's order is not kept: one may be
 * stored after a later one (late), and fills a gap counted when the later one arrived; `late`
 * counts those, so gaps minus late is what is missing.
 */
import type { Logger } from '../../lib/log.js';
import type { Handled, Handlers } from '../ingest/ingest.js';
import type { PostgresStore } from '../store/postgres-store.js';

/** `late`: summaries stored after a later one of their camera, each filling a gap counted before (docs/metrics.md). */
export function clusterHandlers(store: PostgresStore, log: Logger, gaps: { count: number; late?: number }, maxSeqJump: number): Handlers {
  return {
    status(m, now) {
      // A failed commit is reported by commitBatch (the burst is not acknowledged); nothing to do here.
      store.stageStatus(m, now, JSON.stringify(m)).catch(() => undefined);
    },
    summary(m, now, raw, timeProblem): Promise<Handled> {
      return store.stageSummary(m, now, raw, timeProblem).then((o) => {
        if (o.handled === 'quarantined') log.warn({ device: `${m.site}/${m.device}`, camera: m.camera, seq: o.seq, last: o.previousSeq, reason: timeProblem ?? 'seq jump' }, 'summary quarantined');
        if (o.released) log.warn({ device: `${m.site}/${m.device}`, camera: m.camera, released: o.released }, 'quarantined summaries released: the device continues from them');
        if (o.late) gaps.late = (gaps.late ?? 0) + 1;
        else if (o.handled === 'stored' && o.previousSeq > 0 && o.seq > o.previousSeq + 1) {
          gaps.count += Math.min(o.seq - o.previousSeq - 1, maxSeqJump);
          log.debug({ device: `${m.site}/${m.device}`, camera: m.camera, after: o.previousSeq, seq: o.seq }, 'summaries missing before this one (lost upstream, or stored late by another replica)');
        }
        return o.handled;
      });
    },
    event(e, now, raw): Promise<Handled> {
      return store.stageEvent(e, now, raw);
    },
  };
}
