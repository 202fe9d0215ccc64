/**
 * Who may publish and subscribe to what on the embedded broker: pure functions of a client's
 * identity and a topic, so the rules read as a table and are tested without a broker.
 *
 * - device:    publishes only its own contract topics, driftline/v1/{site}/{device}/status and
 *              …/{camera}/summary|event; retains (and so clears) only its own status; subscribes to
 *              nothing (the agent subscribes to nothing).
 * - collector: subscribes to anything; publishes only alerts, driftline/v1/alerts/{site}/{device}.
 * - viewer:    publishes nothing; subscribes to alerts and statuses (of its site, when it has one),
 *              at QoS 0, so the broker keeps no unacknowledged messages for it.
 * - anonymous: the loopback-only mode without a registry: everything, as before the registry.
 */
import { parseTopic, SEGMENT, TOPIC_ROOT } from '../../protocol/topics.js';

export type Identity =
  | { readonly role: 'anonymous' }
  | { readonly role: 'collector'; readonly username: string }
  | { readonly role: 'viewer'; readonly username: string; readonly site?: string }
  | { readonly role: 'device'; readonly username: string; readonly site: string; readonly device: string };

/** Why a publish is refused, or undefined when it is allowed. */
export function publishRefusal(id: Identity, topic: string, retain: boolean): string | undefined {
  if (topic.startsWith('$')) return 'topics starting with $ are reserved';
  switch (id.role) {
    case 'anonymous':
      return undefined;
    case 'viewer':
      return 'a viewer publishes nothing';
    case 'collector':
      return isAlertTopic(topic) ? undefined : `a collector publishes only on ${TOPIC_ROOT}/alerts/{site}/{device}`;
    case 'device': {
      const t = parseTopic(topic);
      if (!t || t.site !== id.site || t.device !== id.device) return `device ${id.site}/${id.device} publishes only under ${TOPIC_ROOT}/${id.site}/${id.device}/ (status, {camera}/summary, {camera}/event)`;
      if (retain && t.kind !== 'status') return 'a device retains only its status';
      return undefined;
    }
  }
}

function isAlertTopic(topic: string): boolean {
  const p = topic.split('/');
  return p.length === 5 && `${p[0]}/${p[1]}` === TOPIC_ROOT && p[2] === 'alerts' && SEGMENT.test(p[3]!) && SEGMENT.test(p[4]!);
}

/**
 * Whether every topic `filter` can match is also matched by `pattern`. The pattern's wildcards are
 * `+` and a final `#`; the filter is what a client sent, wildcards included.
 */
export function filterWithin(filter: string, pattern: string): boolean {
  const f = filter.split('/');
  const p = pattern.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return i < f.length; // the pattern's # takes the rest (a filter ending at its parent is not within it)
    const level = f[i];
    if (level === undefined || level === '#') return false;
    if (p[i] !== '+' && level !== p[i]) return false;
  }
  return f.length === p.length;
}

/** The QoS to grant a subscription, or a refusal reason. */
export function subscribeGrant(id: Identity, filter: string, qos: number): { qos: number } | { refused: string } {
  switch (id.role) {
    case 'anonymous':
    case 'collector':
      return { qos };
    case 'device':
      return { refused: 'a device subscribes to nothing' };
    case 'viewer': {
      const site = id.site ?? '+';
      const allowed = [`${TOPIC_ROOT}/alerts/${id.site ?? '+'}/+`, `${TOPIC_ROOT}/alerts/${id.site ? `${id.site}/` : ''}#`, `${TOPIC_ROOT}/${site}/+/status`];
      return allowed.some((p) => filterWithin(filter, p)) ? { qos: 0 } : { refused: `a viewer subscribes only within ${allowed.join(', ')}` };
    }
  }
}
