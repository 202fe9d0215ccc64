/**
 * The embedded broker's gate: aedes' authenticate, authorizePublish and authorizeSubscribe hooks,
 * with the caps aedes has no options for (clients, retained topics), and a counter for every
 * refusal so /metrics can show an attack or a misconfigured device. Who may do what is
 * policy.ts; who is who comes from the device registry (registry.ts) or, for the collector's own
 * client, from a credential made at start that never leaves the process.
 *
 * A refused publish closes the connection (MQTT 3.1.1 has no negative PUBACK), and aedes never
 * forwards or stores it. A refused subscription gets a failure return code (0x80) in its SUBACK.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AuthenticateError, AuthErrorCode, Client, PublishPacket, Subscription } from 'aedes';
import { Throttle } from '../../lib/throttle.js';
import type { Logger } from '../../lib/log.js';
import { parseHash, verifyPassword, type ScryptHash } from './password.js';
import { publishRefusal, subscribeGrant, type Identity } from './policy.js';
import type { Registry, RegistryEntry } from './registry.js';

export const REFUSALS = ['auth', 'clientId', 'clients', 'packetSize', 'publish', 'subscribe', 'retained', 'inflight'] as const;
export type Refusal = (typeof REFUSALS)[number];

export interface BrokerCaps {
  /** Largest MQTT packet, fixed header included (enforced at the socket: packet-guard.ts). */
  readonly maxPacketBytes: number;
  /** Distinct retained topics; a new one beyond this is refused, replacing or clearing one is not. */
  readonly maxRetained: number;
  /** Connected clients, the collector's own not counted. */
  readonly maxClients: number;
  /** Inbound QoS 2 messages awaiting PUBREL per client (aedes' maxInflightInbound). */
  readonly maxInflight: number;
}

/** The collector's own client: its client id (broker.clientId) and a random credential made at start. */
export interface OwnClient {
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}

export interface BrokerStats {
  readonly refused: Readonly<Record<Refusal, number>>;
  /** Clients holding a slot under maxClients now. */
  readonly clients: number;
  /** Distinct retained topics now. */
  readonly retained: number;
}

/** scrypt checks at once: each takes a libuv thread for tens of ms; a flood of bad CONNECTs queues here. */
const VERIFY_CONCURRENCY = 2;
/** Checked for an unknown username, so a miss costs as long as a wrong password. */
const DUMMY_HASH = parseHash(`scrypt$16384$8$1$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(32).toString('base64url')}`) as ScryptHash;

const refusedAuth = (message: string, returnCode: number): AuthenticateError => Object.assign(new Error(message), { returnCode: returnCode as AuthErrorCode });
const BAD_CREDENTIALS = 4;
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;

export class BrokerAccess {
  private readonly counts: Record<Refusal, number> = Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<Refusal, number>;
  private readonly identities = new WeakMap<Client, Identity>();
  private readonly admitted = new Set<Client>();
  private readonly retained = new Set<string>();
  /** One log line per reason every 10 s. */
  private readonly logged = new Throttle(10_000, () => performance.now());
  private verifying = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly o: { readonly registry: Registry | undefined; readonly own: OwnClient | undefined; readonly caps: BrokerCaps; readonly log: Logger },
  ) {}

  /** The site and device a registered device client authenticated as; undefined for other roles. */
  deviceOf(client: Client): { site: string; device: string } | undefined {
    const id = this.identities.get(client);
    return id?.role === 'device' ? { site: id.site, device: id.device } : undefined;
  }

  stats(): BrokerStats {
    return { refused: { ...this.counts }, clients: this.admitted.size, retained: this.retained.size };
  }

  /** Counts a refusal and logs it (at most one line per reason every 10 s; the counter sees all). */
  refuse(reason: Refusal, detail: Record<string, unknown>, message: string): void {
    this.counts[reason]++;
    if (this.logged.take(reason) === 0) return;
    this.o.log.warn({ reason, ...detail, refusedSoFar: this.counts[reason] }, `embedded broker refused: ${message}`);
  }

  readonly authenticate = (client: Client, username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void => {
    this.admit(client, username, password).then(
      (refusal) => done(refusal ?? null, refusal === undefined),
      (e: unknown) => done(refusedAuth(`authentication failed: ${(e as Error).message}`, SERVER_UNAVAILABLE), false),
    );
  };

  private async admit(client: Client, username: string | undefined, password: Buffer | undefined): Promise<AuthenticateError | undefined> {
    const who = { clientId: client.id, username, address: (client.conn as { remoteAddress?: string }).remoteAddress };
    const own = this.o.own;
    if (own && username === own.username) {
      if (client.id === own.clientId && password !== undefined && sameSecret(password, own.password)) {
        this.identities.set(client, { role: 'collector', username });
        return undefined;
      }
      this.refuse('auth', who, "the collector's own credential with a wrong password or client id");
      return refusedAuth('bad username or password', BAD_CREDENTIALS);
    }
    if (own && client.id === own.clientId) {
      this.refuse('clientId', who, "a client used the collector's client id (broker.clientId)");
      return refusedAuth('client id reserved', IDENTIFIER_REJECTED);
    }
    if (this.admitted.size >= this.o.caps.maxClients) {
      this.refuse('clients', who, `broker.maxClients (${this.o.caps.maxClients}) clients are connected`);
      return refusedAuth('too many clients', SERVER_UNAVAILABLE);
    }
    // The slot is held from here until the socket closes, whether or not the credentials pass.
    this.admitted.add(client);
    client.conn.once('close', () => this.admitted.delete(client));
    const registry = this.o.registry;
    if (!registry) {
      this.identities.set(client, { role: 'anonymous' });
      return undefined;
    }
    const entry = username === undefined ? undefined : registry.users.get(username);
    const ok = await this.verify(password ?? Buffer.alloc(0), entry?.hash ?? DUMMY_HASH);
    if (!entry || !ok || password === undefined) {
      this.refuse('auth', who, entry ? 'wrong password' : username === undefined ? 'no username' : 'unknown username');
      return refusedAuth('bad username or password', BAD_CREDENTIALS);
    }
    const claimant = registry.clientIds.get(client.id);
    if ((claimant !== undefined && claimant !== entry.username) || (entry.clientId !== undefined && entry.clientId !== client.id)) {
      this.refuse('clientId', who, claimant !== undefined && claimant !== entry.username ? `client id claimed by registry user ${claimant}` : `user must connect with its registry clientId`);
      return refusedAuth('client id not allowed for this user', IDENTIFIER_REJECTED);
    }
    this.identities.set(client, identityOf(entry));
    return undefined;
  }

  private async verify(password: Buffer, hash: ScryptHash): Promise<boolean> {
    if (this.verifying >= VERIFY_CONCURRENCY) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.verifying++;
    try {
      return await verifyPassword(password, hash);
    } finally {
      this.verifying--;
      this.queue.shift()?.();
    }
  }

  readonly authorizePublish = (client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void => {
    // client is null only for a will left by a client of an earlier broker instance (aedes' heartbeat):
    // its identity is gone, so only the anonymous mode lets it through.
    const id: Identity | undefined = client ? this.identities.get(client) : this.o.registry ? undefined : { role: 'anonymous' };
    const who = { clientId: client?.id, username: id && 'username' in id ? id.username : undefined, topic: packet.topic.slice(0, 200) };
    const payloadBytes = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
    // Over the cap only if a path skipped the socket guard (a will is part of CONNECT, which it checks).
    if (payloadBytes > this.o.caps.maxPacketBytes) {
      this.refuse('packetSize', { ...who, bytes: payloadBytes }, `a payload over broker.maxPacketBytes (${this.o.caps.maxPacketBytes})`);
      return done(new Error('packet too large'));
    }
    const why = id ? publishRefusal(id, packet.topic, packet.retain) : 'no identity';
    if (why) {
      this.refuse('publish', who, why);
      return done(new Error(`publish not authorised: ${why}`));
    }
    if (packet.retain) {
      if (payloadBytes === 0) this.retained.delete(packet.topic);
      else if (!this.retained.has(packet.topic)) {
        if (this.retained.size >= this.o.caps.maxRetained) {
          this.refuse('retained', who, `broker.maxRetained (${this.o.caps.maxRetained}) retained topics are held`);
          return done(new Error('retained message cap reached'));
        }
        this.retained.add(packet.topic);
      }
    }
    done(null);
  };

  readonly authorizeSubscribe = (client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void => {
    const id = this.identities.get(client);
    const grant = id ? subscribeGrant(id, sub.topic, sub.qos) : { refused: 'no identity' };
    if ('refused' in grant) {
      this.refuse('subscribe', { clientId: client.id, username: id && 'username' in id ? id.username : undefined, filter: sub.topic.slice(0, 200) }, grant.refused);
      return done(null, null); // a failure code in the SUBACK; the connection stays
    }
    // In place: aedes persists the packet's subscriptions for a persistent session. (Its SUBACK still
    // reports the QoS asked for; delivery uses this one.)
    sub.qos = grant.qos as Subscription['qos'];
    done(null, sub);
  };
}

function identityOf(e: RegistryEntry): Identity {
  if (e.role === 'device') return { role: 'device', username: e.username, site: e.site!, device: e.device! };
  if (e.role === 'viewer') return { role: 'viewer', username: e.username, ...(e.site ? { site: e.site } : {}) };
  return { role: 'collector', username: e.username };
}

function sameSecret(given: Buffer, expected: string): boolean {
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}
