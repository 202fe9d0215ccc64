/**
 * The collector's MQTT session. It subscribes to the device topics with QoS 1 on a persistent
 * session (clean: false, with a session expiry), so the broker keeps what arrives while the
 * collector is away; on an external broker through the shared subscription, so replicas split the
 * fleet. A message is acknowledged (PUBACK) only after ingest has stored it durably: a collector
 * that dies mid-message gets it again. Reconnects back off exponentially with jitter.
 *
 * Group commit: the messages of one burst (everything that arrived before the event loop turns)
 * are stored in one transaction, and their PUBACKs are held back (the socket is corked) until it
 * commits. A failed commit drops the connection with the PUBACKs unsent, so the broker re-delivers.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { backoffDelay, type Backoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/log.js';
import { collectorFilters } from '../../protocol/topics.js';

/** A session that lasted this long was healthy: the reconnect backoff starts again from its minimum. */
const STABLE_MS = 10_000;

export interface SubscriberOptions {
  readonly url: string;
  readonly client: IClientOptions;
  /** Shared-subscription group; undefined: plain subscriptions (the embedded broker has no $share). */
  readonly shareGroup?: string;
  /** Topic filters to subscribe to (default: the device topics, collectorFilters); none: a session that only publishes. */
  readonly filters?: readonly string[];
  /** MQTT 5 on external brokers (shared subscriptions, session expiry); 3.1.1 on the embedded one. */
  readonly protocolVersion: 4 | 5;
  /** MQTT 5: how long the broker keeps the session (and queues for it) while the collector is away. */
  readonly sessionExpirySeconds: number;
  readonly backoff: Backoff;
  readonly log: Logger;
  readonly onMessage: (topic: string, payload: Buffer) => void;
  /** Group commit around each burst of messages. */
  readonly batch?: { begin(): void; commit(): void };
}

export class Subscriber {
  private client: MqttClient | undefined;
  private attempt = 0;
  private connectedAt = 0;
  private subscribed = false;

  constructor(private readonly o: SubscriberOptions) {}

  get connected(): boolean {
    return Boolean(this.client?.connected && this.subscribed);
  }

  /** The live client, for publishing alerts. */
  get mqtt(): MqttClient | undefined {
    return this.client;
  }

  start(): void {
    const client = connect(this.o.url, {
      ...this.o.client,
      clean: false,
      protocolVersion: this.o.protocolVersion,
      reconnectPeriod: this.o.backoff.initialMs,
      resubscribe: false,
      ...(this.o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: this.o.sessionExpirySeconds } } : {}),
    });
    this.client = client;
    client.handleMessage = (packet, done) => {
      try {
        if (this.o.batch && !this.inBurst) this.openBurst(client);
        this.o.onMessage(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
        done();
      } catch (e) {
        // The store refused the message: do not acknowledge it; the broker re-delivers on reconnect.
        this.o.log.error({ err: (e as Error).message, topic: packet.topic }, 'could not store a message; reconnecting so the broker re-delivers it');
        client.stream.destroy();
      }
    };
    client.on('connect', (ack) => {
      // The backoff starts again only once a session has lasted: a store that refuses every commit
      // cuts each session at once, and reconnecting at the minimum delay would spin.
      this.connectedAt = Date.now();
      const filters = [...(this.o.filters ?? collectorFilters(this.o.shareGroup))];
      if (filters.length === 0) {
        this.subscribed = true;
        return;
      }
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) {
          this.o.log.error({ err: err.message }, 'subscribe failed');
          return;
        }
        this.subscribed = true;
        this.o.log.info({ filters, sessionPresent: ack.sessionPresent }, 'subscribed to device topics');
      });
    });
    client.on('close', () => {
      if (this.subscribed) this.o.log.warn('lost the broker connection; reconnecting');
      this.subscribed = false;
      if (this.connectedAt > 0 && Date.now() - this.connectedAt >= STABLE_MS) this.attempt = 0;
      this.connectedAt = 0;
      client.options.reconnectPeriod = Math.round(backoffDelay(this.o.backoff, this.attempt++));
    });
    client.on('error', (e) => this.o.log.warn({ err: e.message }, 'broker connection error'));
  }

  private inBurst = false;

  private openBurst(client: MqttClient): void {
    const stream = client.stream;
    this.inBurst = true;
    stream.cork();
    this.o.batch!.begin();
    setImmediate(() => {
      this.inBurst = false;
      try {
        this.o.batch!.commit();
        stream.uncork();
      } catch (e) {
        this.o.log.error({ err: (e as Error).message }, 'could not store a batch of messages; reconnecting so the broker re-delivers them');
        stream.destroy();
      }
    });
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
  }
}
