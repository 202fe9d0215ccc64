/**
 * The MQTT topics of wire contract v1 (docs/mqtt.md). Both sides build and parse topics here, so a
 * device name can never produce a topic the other side reads differently.
 */
export const TOPIC_ROOT = 'driftline/v1';

/**
 * A topic segment (a site, device or camera name): letters, digits, `_ . -`, at most 64; never `/`,
 * `+`, `#` or empty. The one definition: the payload schemas and the collector's HTTP routes check
 * names with `SEGMENT_PATTERN`, code with `SEGMENT`.
 */
export const SEGMENT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
export const SEGMENT = new RegExp(SEGMENT_PATTERN);

export type TopicKind = 'status' | 'summary' | 'event';

export interface ParsedTopic {
  readonly kind: TopicKind;
  readonly site: string;
  readonly device: string;
  /** Absent for `status`. */
  readonly camera?: string;
}

export const statusTopic = (site: string, device: string): string => `${TOPIC_ROOT}/${site}/${device}/status`;
export const summaryTopic = (site: string, device: string, camera: string): string => `${TOPIC_ROOT}/${site}/${device}/${camera}/summary`;
export const eventTopic = (site: string, device: string, camera: string): string => `${TOPIC_ROOT}/${site}/${device}/${camera}/event`;
export const alertTopic = (site: string, device: string): string => `${TOPIC_ROOT}/alerts/${site}/${device}`;

/**
 * parseTopic with a cache of the topics it accepted: a fleet has a few per camera, and ingest parses
 * every message's. Past `limit` topics the cache starts again.
 */
export function topicParser(limit = 4096): (topic: string) => ParsedTopic | undefined {
  const cache = new Map<string, ParsedTopic>();
  return (topic) => {
    let t = cache.get(topic);
    if (t === undefined) {
      t = parseTopic(topic);
      if (t === undefined) return undefined;
      if (cache.size >= limit) cache.clear();
      cache.set(topic, t);
    }
    return t;
  };
}

/** The topic a parsed topic was parsed from (parseTopic accepts only topics it can write back exactly). */
export function topicOf(t: ParsedTopic): string {
  return t.kind === 'status' ? statusTopic(t.site, t.device) : t.kind === 'summary' ? summaryTopic(t.site, t.device, t.camera!) : eventTopic(t.site, t.device, t.camera!);
}

/** The filters a collector subscribes to; `share` prefixes them with `$share/<group>/`. */
export function collectorFilters(share?: string): string[] {
  const p = share ? `$share/${share}/` : '';
  return [`${p}${TOPIC_ROOT}/+/+/status`, `${p}${TOPIC_ROOT}/+/+/+/summary`, `${p}${TOPIC_ROOT}/+/+/+/event`];
}

/** Parses an incoming topic; undefined when it is not one of the device topics of v1. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const p = topic.split('/');
  if (p[0] !== 'driftline' || p[1] !== 'v1' || p[2] === 'alerts') return undefined;
  const ok = (s: string | undefined): s is string => s !== undefined && SEGMENT.test(s);
  if (p.length === 5 && p[4] === 'status' && ok(p[2]) && ok(p[3])) return { kind: 'status', site: p[2], device: p[3] };
  if (p.length === 6 && (p[5] === 'summary' || p[5] === 'event') && ok(p[2]) && ok(p[3]) && ok(p[4])) {
    return { kind: p[5], site: p[2], device: p[3], camera: p[4] };
  }
  return undefined;
}
