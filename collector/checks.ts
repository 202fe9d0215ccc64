/**
 * What `driftline collector --check` verifies and what the collector verifies before it creates
 * anything: the credential, token and TLS files it names can be read and its database folder can be
 * created. Ports already taken are warnings here (this collector may be the one holding them); at
 * the real start they are DRIFTLINE_ERR_LISTEN.
 */
import { Checks } from '../lib/checks.js';
import type { CollectorConfig } from './config.js';

export async function checkCollector(config: CollectorConfig, o: { ports: boolean } = { ports: true }): Promise<Checks> {
  const c = new Checks();
  const b = config.broker;
  for (const k of ['ca', 'cert', 'key', 'passwordFile'] as const) c.readable(`broker.${k}`, b[k], k === 'passwordFile' ? 'a readable file' : 'a readable PEM file');
  c.readable('http.ackTokenFile', config.http.ackTokenFile);
  c.readable('notify.webhookSecretFile', config.notify.webhookSecretFile);
  c.creatable('store.path', config.store.path);
  if (o.ports) {
    if (!b.url) {
      await c.port('broker.port', b.host, b.port);
      if (b.port === 1883 && c.warnings.length) c.warn('1883 is the standard MQTT port: if a Mosquitto broker runs here, use it with broker.url: mqtt://127.0.0.1:1883 (DRIFTLINE_COLLECTOR_BROKER__URL), or move the embedded broker with broker.port');
    }
    await c.port('http.port', config.http.host, config.http.port);
  }
  return c;
}
