/**
 * Mosquitto's ACL file, written from the device registry (docs/security.md, "Mosquitto"): the same
 * file the embedded broker authorises from, so there is one list of devices, never two.
 *
 * Mosquitto's `pattern` lines substitute only the username (%u) and the client id (%c), so a pattern
 * cannot tie a device to its site: `pattern write driftline/v1/+/%u/status` let device edge-1 publish
 * under every site, and into the alerts tree (driftline/v1/alerts/edge-1/status). Patterns also apply
 * to every user, the collector and the displays included. So there are no patterns here: each entry
 * gets a `user` block that names its own site and device literally, mirroring policy.ts:
 *
 * - device:    writes only driftline/v1/{site}/{device}/status and …/+/summary, …/+/event;
 * - collector: reads driftline/v1/#, writes only driftline/v1/alerts/+/+;
 * - viewer:    reads alerts and statuses (of its site, when it has one), writes nothing.
 *
 * Mosquitto denies whatever no line grants, so a user missing from the registry can do nothing.
 * What Mosquitto's ACL cannot express, and the embedded broker does enforce: a device retains only
 * its status (Mosquitto lets it retain a summary on its own topic), and the client ids an entry
 * claims (the shipped Mosquitto config sets use_username_as_clientid instead).
 */
import { TOPIC_ROOT } from '../../protocol/topics.js';
import type { Registry, RegistryEntry } from './registry.js';

/** The `topic` lines of one registry entry's user block. */
export function aclLines(e: RegistryEntry): string[] {
  switch (e.role) {
    case 'device': {
      const own = `${TOPIC_ROOT}/${e.site!}/${e.device!}`;
      return [`topic write ${own}/status`, `topic write ${own}/+/summary`, `topic write ${own}/+/event`];
    }
    case 'collector':
      return [`topic read ${TOPIC_ROOT}/#`, `topic write ${TOPIC_ROOT}/alerts/+/+`];
    case 'viewer':
      return e.site
        ? [`topic read ${TOPIC_ROOT}/alerts/${e.site}/#`, `topic read ${TOPIC_ROOT}/${e.site}/+/status`]
        : [`topic read ${TOPIC_ROOT}/alerts/#`, `topic read ${TOPIC_ROOT}/+/+/status`];
  }
}

function describe(e: RegistryEntry): string {
  switch (e.role) {
    case 'device':
      return `device ${e.site!}/${e.device!}: publishes its own status, summaries and events`;
    case 'collector':
      return 'collector: reads every device topic, publishes alerts';
    case 'viewer':
      return `viewer${e.site ? ` of site ${e.site}` : ''}: reads alerts and statuses, publishes nothing`;
  }
}

/**
 * The ACL file's text. Users are sorted by username, and nothing in it depends on the time or the
 * machine, so regenerating from an unchanged registry writes the same bytes.
 */
export function mosquittoAcl(registry: Registry, source = registry.file): string {
  const users = [...registry.users.values()].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  const out = [
    `# Generated from the Driftline device registry ${source} by`,
    '#   driftline registry mosquitto-acl REGISTRY --out FILE',
    '# Do not edit: change the registry and generate again (docs/security.md, "Mosquitto").',
    '# No pattern lines: a pattern applies to every user and cannot name a device\'s site.',
    '# Mosquitto refuses whatever no line below grants.',
    '',
  ];
  for (const e of users) out.push(`# ${describe(e)}`, `user ${e.username}`, ...aclLines(e), '');
  return out.join('\n');
}

/** Registry entries that make a Mosquitto deployment useless, said before anyone starts one. */
export function aclWarnings(registry: Registry): string[] {
  const roles = new Set([...registry.users.values()].map((u) => u.role));
  const w: string[] = [];
  if (!roles.has('collector')) w.push('no entry has role collector: no client can read the device topics or publish alerts on Mosquitto');
  if (!roles.has('device')) w.push('no entry has role device: no device can publish');
  return w;
}
