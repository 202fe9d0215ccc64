/** Alerts on MQTT: driftline/v1/alerts/{site}/{device}, QoS 1, for line displays and other consumers. */
import type { MqttClient } from 'mqtt';
import { alertTopic } from '../../protocol/topics.js';
import type { AlertRecord } from '../store/store.js';
import { wireAlert, type Sink } from './sink.js';

export class MqttAlertSink implements Sink {
  readonly name = 'mqtt';
  readonly wantsResend = false;

  constructor(private readonly client: () => MqttClient | undefined) {}

  send(a: AlertRecord): Promise<void> {
    const c = this.client();
    if (!c?.connected) return Promise.reject(new Error('not connected to the broker'));
    return new Promise((resolve, reject) => {
      c.publish(alertTopic(a.labels.site ?? 'unknown', a.labels.device ?? 'unknown'), JSON.stringify(wireAlert(a)), { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  }
}
