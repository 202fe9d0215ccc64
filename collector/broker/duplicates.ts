/**
 * Two agents with one identity (a cloned SD card, a copied config) take over each other's session
 * on the broker every few hundred ms. The embedded broker sees every connect: the same client id
 * connecting `count` times within `windowMs` from more than one address is that pattern (one device
 * reconnecting after a network fault comes from one address, and its backoff spaces it out).
 */
export interface DuplicateSignal {
  readonly clientId: string;
  /** The addresses the client id connected from, within the window. */
  readonly addresses: readonly string[];
  readonly connects: number;
}

export class DuplicateWatch {
  private readonly connects = new Map<string, { ts: number; address: string }[]>();

  constructor(private readonly o: { readonly count?: number; readonly windowMs?: number; readonly maxIds?: number } = {}) {}

  /** A client connected; returns the signal when its id now shows the duplicate pattern. */
  connected(clientId: string, address: string, now = Date.now()): DuplicateSignal | undefined {
    const windowMs = this.o.windowMs ?? 60_000;
    const list = (this.connects.get(clientId) ?? []).filter((c) => now - c.ts < windowMs);
    list.push({ ts: now, address });
    this.connects.delete(clientId); // re-inserted last: the map's order is by recency
    this.connects.set(clientId, list);
    // Bounded memory, whatever connects: the ids seen longest ago go first.
    for (const id of this.connects.keys()) {
      if (this.connects.size <= (this.o.maxIds ?? 10_000)) break;
      this.connects.delete(id);
    }
    const addresses = [...new Set(list.map((c) => c.address))];
    return list.length >= (this.o.count ?? 3) && addresses.length >= 2 ? { clientId, addresses, connects: list.length } : undefined;
  }
}
