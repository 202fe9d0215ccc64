/**
 * One handler per message kind: store it, then let the rules see it. Duplicates stop at the store.
 * The rules run inside runRules: whatever they throw is contained by Ingest, after the store.
 */
import type { Logger } from '../../lib/log.js';
import type { RuleEngine } from '../rules/engine.js';
import type { CollectorStore } from '../store/store.js';
import { runRules, type Handlers } from './ingest.js';

/** `gaps` counts summaries missing between seqs; undefined when replicas share the fleet (each sees gaps). */
export function handlers(store: CollectorStore, rules: RuleEngine, log: Logger, gaps: { count: number } | undefined): Handlers {
  return {
    status(m, now) {
      const previous = store.device(m.site, m.device)?.status;
      store.putStatus(m, now);
      runRules(() => rules.onStatus(m, previous, now));
    },
    summary(m, now, raw) {
      const { result, previousSeq } = store.addSummary(m, now, raw);
      if (result === 'duplicate') return false;
      if (gaps && previousSeq > 0 && m.seq > previousSeq + 1) {
        gaps.count += m.seq - previousSeq - 1;
        log.warn({ device: `${m.site}/${m.device}`, camera: m.camera, after: previousSeq, seq: m.seq }, 'summaries missing before this one (dropped upstream)');
      }
      runRules(() => rules.onSummary(m, now));
      return true;
    },
    event(m, now, raw) {
      if (store.addEvent(m, now, raw) === 'duplicate') return false;
      runRules(() => rules.onEvent(m, now));
      return true;
    },
  };
}
