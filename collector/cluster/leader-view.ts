/**
 * What the rules read and write on the leader of replicas on PostgreSQL (store.ts RuleStore): the
 * devices and the active alerts, loaded when leadership begins and then kept by the feed of stored
 * messages. The rules run synchronously on it; their alert writes go to the database behind, one
 * after another in order, and a notification leaves only once the write before it has committed
 * (afterWrites), so a new leader always finds every alert that was ever sent.
 */
import type { Logger } from '../../lib/log.js';
import type { FeedRow, PostgresStore } from '../store/postgres-store.js';
import type { AlertQuery, AlertRecord, DeviceRow, RuleStore } from '../store/store.js';

const key = (site: string, device: string): string => `${site}\u0000${device}`;

export class LeaderView implements RuleStore {
  private readonly byDevice = new Map<string, DeviceRow>();
  private readonly firing = new Map<string, AlertRecord>();
  private writes: Promise<void> = Promise.resolve();
  /** Alert writes the database refused (logged); the rules go on from memory. */
  writeFailures = 0;

  private constructor(
    private readonly store: PostgresStore,
    private readonly log: Logger,
  ) {}

  static async load(store: PostgresStore, log: Logger): Promise<LeaderView> {
    const v = new LeaderView(store, log);
    for (const d of await store.devices()) v.byDevice.set(key(d.site, d.device), d);
    for (const a of await store.alerts({ state: 'firing', limit: 1_000_000 })) v.firing.set(a.id, a);
    return v;
  }

  /** A stored message, from the feed: a status replaces its device's; any message marks its device seen. */
  apply(row: FeedRow): void {
    const k = key(row.m.site, row.m.device);
    if (row.kind === 'status') {
      this.byDevice.set(k, { site: row.m.site, device: row.m.device, state: row.m.state, lastSeen: row.receivedTs, status: row.m });
      return;
    }
    const d = this.byDevice.get(k);
    if (d && d.lastSeen < row.receivedTs) d.lastSeen = row.receivedTs;
  }

  device(site: string, device: string): DeviceRow | undefined {
    return this.byDevice.get(key(site, device));
  }

  devices(): DeviceRow[] {
    return [...this.byDevice.values()];
  }

  /** The active alerts (the rules ask for nothing else). */
  alerts(o: AlertQuery): AlertRecord[] {
    if (o.state !== 'firing') throw new Error('the leader view holds only firing alerts');
    return [...this.firing.values()].slice(0, o.limit);
  }

  alert(id: string): AlertRecord | undefined {
    return this.firing.get(id);
  }

  saveAlert(a: AlertRecord): void {
    if (a.state === 'firing') this.firing.set(a.id, a);
    else this.firing.delete(a.id);
    const snapshot = structuredClone(a);
    this.writes = this.writes.then(() =>
      this.store.saveAlert(snapshot).catch((e: unknown) => {
        this.writeFailures++;
        this.log.error({ alert: a.id, rule: a.rule, state: a.state, err: (e as Error).message }, 'could not store an alert change');
      }),
    );
  }

  /** Runs `f` once every alert write made so far has committed (or failed, logged). */
  afterWrites(f: () => void): void {
    void this.writes.then(f);
  }

  /** Resolves when the writes made so far are done. */
  settled(): Promise<void> {
    return this.writes;
  }
}
