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
 *
 * A store may be asynchronous (PostgreSQL): `onMessage` may return a promise (the message is
 * stored when it resolves) and `commit` may too. The commit is called at the burst's end as before
 * (a store may settle its messages only when it commits), and the socket is uncorked once the
 * commit and every message of the burst have resolved; a rejection drops the connection, as a
 * throw does. A second burst can begin while the first commit is in flight: corks are counted, so
 * the PUBACKs of both go out when both have committed. Never before. While the socket is corked,
 * whatever else the client writes (an alert it publishes, a ping, a SUBSCRIBE after a reconnect)
 * waits too: one turn of the event loop for SQLite, a commit's round trip for a database server.
 * A synchronous store (SQLite) takes none of these paths: no promise, no allocation per message.
 *
 * The session asks the broker for up to `receiveMaximum` unacknowledged messages at once (MQTT 5):
 * while a commit is in flight nothing is acknowledged, and the broker's default of 20 would stop
 * delivery at 20 until it ends (an asynchronous commit is a network round trip).
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { backoffDelay, type Backoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/log.js';
import { collectorFilters } from '../../protocol/topics.js';

/** A session that lasted this long was healthy: the reconnect backoff starts again from its minimum. */
const STABLE_MS = 10_000;

/** MQTT 5 Receive Maximum: unacknowledged QoS 1 messages the broker may send before it waits for PUBACKs. */
export const DEFAULT_RECEIVE_MAXIMUM = 1000;

/**
 * mqtt.js traces every packet through the `debug` module; off, each call still costs (about 1% of
 * ingest). Left to it only when DEBUG may name it.
 */
const quietMqtt = /mqttjs|\*/.test(process.env.DEBUG ?? '') ? {} : { log: (): void => undefined };

const isPromise = (x: unknown): x is PromiseLike<unknown> => typeof (x as PromiseLike<unknown> | undefined)?.then === 'function';

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
  /** Stores a message; a promise: stored when it resolves (it is acknowledged only then), refused when it rejects. */
  readonly onMessage: (topic: string, payload: Buffer) => unknown;
  /** Group commit around each burst of messages; `commit` may return a promise (an asynchronous store). */
  readonly batch?: { begin(): void; commit(): void | Promise<void> };
  /** MQTT 5: how many unacknowledged messages the broker may send at once (default DEFAULT_RECEIVE_MAXIMUM). */
  readonly receiveMaximum?: number;
  /**
   * MQTT 5: stop() ends the broker session (DISCONNECT with a session expiry of 0). The session is
   * kept for `sessionExpirySeconds` if the connection drops before that, so nothing it holds is lost.
   */
  readonly endSessionOnStop?: boolean;
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
      ...quietMqtt,
      ...this.o.client,
      clean: false,
      protocolVersion: this.o.protocolVersion,
      reconnectPeriod: this.o.backoff.initialMs,
      resubscribe: false,
      ...(this.o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: this.o.sessionExpirySeconds, receiveMaximum: this.o.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM } } : {}),
    });
    this.client = client;
    const batch = this.o.batch;
    client.handleMessage = (packet, done) => {
      // Stopping: not taken, not acknowledged (mqtt.js sends no PUBACK for a message whose handler
      // fails, and goes on to the next packet); the broker gives it to this session again, or to
      // another replica.
      if (this.client !== client) {
        this.declined++;
        done(new Error('stopping'));
        return;
      }
      // A refused burst destroyed the connection, and mqtt.js may still hand over packets it had
      // read: not taken either. Stored, their later seqs would make the redelivered earlier
      // messages of the refused burst look like duplicates.
      if (client.stream.destroyed) {
        done(new Error('connection lost'));
        return;
      }
      try {
        if (batch && !this.inBurst) this.openBurst(client, batch);
        const stored = this.o.onMessage(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
        if (stored !== undefined && isPromise(stored)) {
          if (this.inBurst) {
            // The PUBACK waits in the corked socket until the burst has committed and this has settled.
            // A refusal is handled at the burst's end; until then it must not count as unhandled.
            stored.then(undefined, () => undefined);
            (this.pending ??= []).push(stored);
            done();
          } else {
            // No burst to join: this message's PUBACK waits for it (and mqtt.js waits for the PUBACK).
            const stream = client.stream;
            stored.then(
              () => (client.stream === stream ? done() : undefined),
              (e: unknown) => this.refused(stream, e, packet.topic),
            );
          }
          return;
        }
        done();
      } catch (e) {
        this.refused(client.stream, e, packet.topic);
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

  /** The store refused a message: do not acknowledge it; the broker re-delivers it on reconnect. */
  private refused(stream: MqttClient['stream'], e: unknown, topic: string): void {
    this.o.log.error({ err: (e as Error)?.message ?? String(e), topic }, 'could not store a message; reconnecting so the broker re-delivers it');
    stream.destroy();
  }

  /** The burst's commit failed: drop the connection, its PUBACKs unsent, so the broker re-delivers them. */
  private refusedBatch(stream: MqttClient['stream'], e: unknown): void {
    this.o.log.error({ err: (e as Error)?.message ?? String(e) }, 'could not store a batch of messages; reconnecting so the broker re-delivers them');
    stream.destroy();
  }

  /** A burst is open: its messages are stored in one batch, their PUBACKs held in the corked socket. */
  private inBurst = false;
  /** The open burst's messages that an asynchronous store has not settled yet; undefined: none. */
  private pending: PromiseLike<unknown>[] | undefined;

  private openBurst(client: MqttClient, batch: NonNullable<SubscriberOptions['batch']>): void {
    const stream = client.stream;
    this.inBurst = true;
    stream.cork();
    batch.begin();
    setImmediate(() => {
      const pending = this.pending;
      this.pending = undefined;
      this.inBurst = false;
      let committed: void | Promise<void>;
      try {
        committed = batch.commit();
      } catch (e) {
        this.refusedBatch(stream, e);
        return;
      }
      if (pending === undefined && (committed === undefined || !isPromise(committed))) {
        stream.uncork();
        return;
      }
      // The commit is called without waiting for the messages: a store may settle them only when it
      // commits. The PUBACKs leave once the commit and every message of the burst have succeeded;
      // a burst that began meanwhile corked the socket again, so its PUBACKs wait for its own commit.
      const all: PromiseLike<unknown>[] = pending ?? [];
      if (committed !== undefined) all.push(committed);
      const settled = Promise.all(all).then(
        () => stream.uncork(),
        (e: unknown) => this.refusedBatch(stream, e),
      );
      this.committing.add(settled);
      void settled.finally(() => {
        this.committing.delete(settled);
        this.lastSettled = Date.now();
      });
    });
  }

  /** Bursts whose commit is in flight, their PUBACKs held in the corked socket. */
  private readonly committing = new Set<Promise<void>>();
  /** When the last burst's commit settled (ms since the epoch); 0: none yet. */
  lastSettled = 0;
  /** Messages that arrived while stopping, left unacknowledged. */
  declined = 0;

  /** A burst is open or committing: messages are in hand and not yet acknowledged. */
  get settling(): boolean {
    return this.inBurst || this.committing.size > 0;
  }

  /**
   * Takes no more messages, waits for the bursts being committed (ending the socket would uncork
   * their PUBACKs before their commit: a refused commit would then lose its messages) for up to
   * `commitWaitMs`, then ends the session. Without a connection, or when the commits did not end in
   * time, it ends at once without a DISCONNECT (mqtt.js would wait for acknowledgements that cannot
   * come; nothing unacknowledged is lost, the broker keeps it). `endSessionOnStop` ends the broker
   * session only when the stop left nothing behind: no message declined while stopping.
   */
  async stop(commitWaitMs = 30_000): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.subscribed = false; // a stop, not a lost connection: nothing to warn about
    if (this.inBurst) await new Promise<void>((resolve) => setImmediate(resolve)); // the open burst commits
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      Promise.all(this.committing).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), commitWaitMs))),
    ]);
    clearTimeout(timer);
    if (!c) return;
    const endSession = this.o.endSessionOnStop && this.o.protocolVersion === 5 && this.declined === 0;
    await new Promise<void>((resolve) => c.end(!c.connected || !ended, endSession ? { properties: { sessionExpiryInterval: 0 } } : {}, () => resolve()));
  }
}
