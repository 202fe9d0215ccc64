/**
 * The embedded broker (aedes) for the demo and for small sites: a plain MQTT 3.1.1/TCP listener in
 * the collector's process, with in-memory persistence. It does not implement shared subscriptions
 * or survive a restart; production fleets use Mosquitto (deploy/mosquitto/) and broker.url.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker({ drainTimeout: 10_000 });
  const server: Server = createServer(broker.handle as unknown as (s: import('node:net').Socket) => void);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    await new Promise<void>((resolve) => broker.close(() => resolve())); // its heartbeat timer would keep the process alive
    throw e;
  }
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actual}`,
    port: actual,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
