/**
 * Alertmanager API v2: POST /api/v2/alerts with the alert's labels and annotations. A firing alert
 * is sent without endsAt and re-sent on the engine's cadence (Alertmanager resolves alerts it stops
 * hearing about after its resolve_timeout); a resolved alert is sent once more with endsAt.
 */
import type { AlertRecord } from '../store/store.js';
import { postJson, type Sink } from './sink.js';

export class AlertmanagerSink implements Sink {
  readonly name = 'alertmanager';
  readonly wantsResend = true;
  private readonly url: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
    /** Where the alert's details are (this collector's API), known once it listens. */
    private readonly generatorUrl: () => string,
  ) {
    this.url = `${baseUrl.replace(/\/+$/, '')}/api/v2/alerts`;
  }

  static body(a: AlertRecord, generatorUrl: string): Record<string, unknown> {
    const annotations: Record<string, string> = { ...a.annotations };
    const cause = (a.evidence as { cause?: { class?: string; reason?: string } } | undefined)?.cause;
    if (cause?.class) annotations.cause = `${cause.class}: ${cause.reason ?? ''}`;
    annotations.alert_id = a.id;
    return {
      labels: Object.fromEntries(Object.entries(a.labels).filter(([, v]) => v !== '')),
      annotations,
      startsAt: a.startsAt,
      ...(a.state === 'resolved' && a.endsAt ? { endsAt: a.endsAt } : {}),
      // Alertmanager's "Source" link: the alert's page (evidence, review frames, acknowledge); its JSON is /api/v1/alerts/{id}.
      generatorURL: `${generatorUrl}/alerts/${a.id}`,
    };
  }

  send(a: AlertRecord): Promise<void> {
    return postJson(this.url, JSON.stringify([AlertmanagerSink.body(a, this.generatorUrl())]), {}, this.timeoutMs);
  }
}
