/**
 * What `driftline collector --check` verifies and what the collector verifies before it creates
 * anything: the credential, token and TLS files it names can be read and its database folder can be
 * created. Ports already taken are warnings here (this collector may be the one holding them); at
 * the real start they are DRIFTLINE_ERR_LISTEN.
 */
import { Checks } from '../lib/checks.js';
import { loadRegistry } from './broker/registry.js';
import type { CollectorConfig } from './config.js';

/** What to do when the embedded broker's port is taken: most often, a broker already runs there. */
export function brokerPortTaken(host: string, port: number): string {
  return `an MQTT broker (Mosquitto?) probably runs there already. Use it: set broker.url: mqtt://${host}:${port} (or DRIFTLINE_COLLECTOR_BROKER__URL=mqtt://${host}:${port}); or move the embedded broker with broker.port (DRIFTLINE_COLLECTOR_BROKER__PORT)`;
}

export async function checkCollector(config: CollectorConfig, o: { ports: boolean } = { ports: true }): Promise<Checks> {
  const c = new Checks();
  const b = config.broker;
  for (const k of ['ca', 'cert', 'key'] as const) c.pem(`broker.${k}`, b[k]);
  c.readable('broker.passwordFile', b.passwordFile);
  c.readable('http.ackTokenFile', config.http.ackTokenFile);
  c.readable('store.passwordFile', config.store.passwordFile);
  // The device registry: readable, and every entry valid (all problems named at once).
  if (!b.url && b.registry && c.readable('broker.registry', b.registry, 'a readable device registry (YAML)')) c.attempt(() => loadRegistry(b.registry));
  c.readable('notify.webhookSecretFile', config.notify.webhookSecretFile);
  if (!config.store.url) c.creatable('store.path', config.store.path);
  if (o.ports) {
    if (!b.url && (await c.port('broker.port', b.host, b.port))) c.warn(brokerPortTaken(b.host, b.port));
    await c.port('http.port', config.http.host, config.http.port);
  }
  return c;
}
