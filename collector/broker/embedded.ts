/**
 * The embedded broker (aedes) for the demo and for small sites: a plain MQTT 3.1.1/TCP listener in
 * the collector's process, with in-memory persistence. It does not implement shared subscriptions
 * or survive a restart; production fleets use Mosquitto (deploy/mosquitto/) and broker.url.
 *
 * It is safe to expose (docs/security.md, "The embedded broker"): with a device registry every
 * client authenticates and is held to its own topics (access.ts, policy.ts); packets, retained
 * topics, clients and in-flight messages are capped. Without a registry it is anonymous, as it
 * always was, and then it binds to loopback only unless broker.allowAnonymous says otherwise.
 *
 * With `storeBeforeAck` the collector stores each device message inside the broker, before the
 * PUBACK: aedes acknowledges a QoS 1 publish before it forwards it, so a collector that stored only
 * what its own subscription received would lose every acknowledged message it had not yet stored
 * when killed.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { driftlineError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { BrokerAccess, type BrokerCaps, type BrokerStats, type OwnClient } from './access.js';
import { isLoopback } from '../../lib/loopback.js';
import { anonymousBeyondLoopback } from './loopback.js';
import { DuplicateWatch, type DuplicateSignal } from './duplicates.js';
import { guardPacketSize } from './packet-guard.js';
import type { Registry } from './registry.js';

export interface EmbeddedBrokerOptions {
  readonly host: string;
  readonly port: number;
  /** The device registry; undefined: anonymous (loopback only, unless allowAnonymous). */
  readonly registry?: Registry;
  /** Accept anonymous clients on a non-loopback host (broker.allowAnonymous). */
  readonly allowAnonymous?: boolean;
  /** The collector's own client, exempt from maxClients; its client id is reserved for it. */
  readonly own?: OwnClient;
  readonly caps: BrokerCaps;
  readonly log: Logger;
  /** One client id connecting again and again from several addresses: two devices share an identity. */
  readonly onDuplicate?: (d: DuplicateSignal & { readonly site?: string; readonly device?: string }) => void;
  /**
   * Stores a client's publish before the broker acknowledges it (aedes sends PUBACK for QoS 1 as
   * soon as the publish is authorised, before any subscriber has it). Throws when the message could
   * not be stored: the client is then disconnected without a PUBACK, and its outbox sends it again.
   * The collector's own client (alerts) is not passed here.
   */
  readonly storeBeforeAck?: (topic: string, payload: Buffer) => void;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** Refusal counters and current usage, for /metrics. */
  stats(): BrokerStats;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(o: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  if (!o.registry && !o.allowAnonymous && !isLoopback(o.host)) throw driftlineError('DRIFTLINE_ERR_CONFIG', anonymousBeyondLoopback(o.host));
  const access = new BrokerAccess({ registry: o.registry, own: o.own, caps: o.caps, log: o.log });
  const broker = await Aedes.createBroker({
    drainTimeout: 10_000,
    maxInflightInbound: o.caps.maxInflight,
    authenticate: access.authenticate,
    authorizePublish: o.storeBeforeAck ? storingFirst(access, o.storeBeforeAck, o.own?.clientId) : access.authorizePublish,
    authorizeSubscribe: access.authorizeSubscribe,
  });
  const duplicates = new DuplicateWatch();
  broker.on('client', (client) => {
    const signal = duplicates.connected(client.id, (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown');
    if (signal) o.onDuplicate?.({ ...signal, ...access.deviceOf(client) });
  });
  broker.on('clientError', (client, err) => {
    if (err.message.startsWith('maxInflightInbound exceeded')) access.refuse('inflight', { clientId: client.id }, `more than broker.maxInflight (${o.caps.maxInflight}) QoS 2 messages awaiting PUBREL`);
  });
  const server: Server = createServer((socket: Socket) => {
    guardPacketSize(socket, o.caps.maxPacketBytes, () =>
      access.refuse('packetSize', { address: socket.remoteAddress }, `a packet over broker.maxPacketBytes (${o.caps.maxPacketBytes}); connection closed`),
    );
    broker.handle(socket);
  });
  // Sockets still in their CONNECT count here too; the collector's own client needs one more.
  server.maxConnections = 2 * o.caps.maxClients + 1;
  server.on('drop', (d?: { remoteAddress?: string }) => access.refuse('clients', { address: d?.remoteAddress }, `more than ${server.maxConnections} open sockets`));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
  } catch (e) {
    await new Promise<void>((resolve) => broker.close(() => resolve())); // its heartbeat timer would keep the process alive
    throw e;
  }
  const actual = (server.address() as AddressInfo).port;
  if (o.registry) {
    const roles = [...o.registry.users.values()].reduce<Record<string, number>>((n, u) => ({ ...n, [u.role]: (n[u.role] ?? 0) + 1 }), {});
    o.log.info({ registry: o.registry.file, users: o.registry.users.size, roles }, 'embedded broker: clients authenticate against the device registry');
  } else {
    o.log.warn({ host: o.host, port: actual }, `embedded broker: anonymous, no device registry (broker.registry): ${isLoopback(o.host) ? 'any process on this machine' : 'anyone who reaches it (broker.allowAnonymous)'} can publish as any device`);
  }
  return {
    url: `mqtt://${host(o.host)}:${actual}`,
    port: actual,
    stats: () => access.stats(),
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The access policy's authorizePublish, then the store: a PUBACK means the message is stored. */
function storingFirst(access: BrokerAccess, store: (topic: string, payload: Buffer) => void, ownClientId: string | undefined): BrokerAccess['authorizePublish'] {
  return (client, packet, done) =>
    access.authorizePublish(client, packet, (err) => {
      if (err || !client || client.id === ownClientId) return done(err);
      try {
        store(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
      } catch (e) {
        return done(e as Error);
      }
      done(null);
    });
}

function host(h: string): string {
  if (h === '0.0.0.0') return '127.0.0.1';
  if (h === '::') return '[::1]';
  return h.includes(':') ? `[${h}]` : h;
}
