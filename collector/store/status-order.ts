/**
 * Which of two statuses of one device is the later, by the device's own count: a current agent gives
 * each broker connection a status `seq` (kept in its database, per epoch), and a connection's Last
 * Will, birth and clean-stop offline all carry it (docs/mqtt.md). A higher seq is a later
 * connection; within one connection the offline ends it, so it is later than the birth. (Its
 * Will and its clean stop's offline, when the broker sends both, are ordered as received.)
 *
 * Neither clock decides: not the replicas' (one running seconds behind would take a Will received
 * after the next birth for an older status), not the time a status reached a replica (a Will the
 * broker held for a replica that died is stored when the leader takes the session over, after the
 * device's next birth), and not the device's (an edge box without a clock battery boots in 1970).
 * Undefined where the count cannot tell: an agent from before it, a status whose seq could not be
 * stored, or two epochs (a re-imaged device): the store then orders by receive time.
 */
import type { StatusMessage } from '../../protocol/messages.js';

export function laterStatus(next: StatusMessage, current: StatusMessage): boolean | undefined {
  if (next.seq === undefined || current.seq === undefined || next.epoch === undefined || next.epoch !== current.epoch) return undefined;
  if (next.seq !== current.seq) return next.seq > current.seq;
  if (next.state === current.state) return next.state === 'online' ? true : undefined; // a Will and a clean stop's offline: as received
  return next.state === 'offline';
}
