/**
 * The device registry (docs/security.md, "The embedded broker"): one YAML file that says who may
 * connect to the collector's embedded broker and as what. The broker authenticates and authorises
 * from it; a Mosquitto password/ACL generator and the collector's identity check are meant to read
 * the same file through loadRegistry(), so there is one list of devices, never three.
 *
 *   users:
 *     - { username: press-7, site: plant-a, device: press-7, passwordHash: "scrypt$16384$8$1$…$…" }
 *     - { username: line-display, role: viewer, passwordHash: "scrypt$…" }
 *
 * Every problem is reported at once in one DRIFTLINE_ERR_CONFIG naming the file, the entry and the
 * field. Password hashes never appear in an error or a log line, not even a malformed one.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { driftlineError } from '../../lib/errors.js';
import { configError, type Problem } from '../../lib/schema.js';
import { SEGMENT } from '../../protocol/topics.js';
import { HASH_FORMAT, parseHash, type ScryptHash } from './password.js';

export const ROLES = ['device', 'collector', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface RegistryEntry {
  readonly username: string;
  readonly role: Role;
  /** A device's site; a viewer's optional scope. */
  readonly site?: string;
  /** A device's name (mqtt.device on the agent). */
  readonly device?: string;
  /** The MQTT client id this entry claims: no other client may use it. */
  readonly clientId?: string;
  readonly hash: ScryptHash;
}

export interface Registry {
  readonly file: string;
  readonly users: ReadonlyMap<string, RegistryEntry>;
  /** Client id -> the username that claims it (explicit clientId, or a device's agent default). */
  readonly clientIds: ReadonlyMap<string, string>;
}

/** Letters, digits, `_ . @ -`: safe in MQTT, YAML and a Mosquitto password file (no `:`). */
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;
const FIELDS = ['username', 'role', 'site', 'device', 'clientId', 'passwordHash'];

/** The client id the agent uses when mqtt.clientId is empty (agent/main.ts). */
export const agentClientId = (site: string, device: string): string => `driftline-agent-${site}-${device}`;

const secretish = (field: string): boolean => /pass|secret|hash|token/i.test(field);

/** Validates a parsed registry; `file` names it in errors. */
export function validateRegistry(raw: unknown, file: string): Registry {
  const problems: Problem[] = [];
  const add = (key: string, value: string, expected: string): void => void problems.push({ key: `${file}: ${key}`, value, expected });
  const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
  const users = new Map<string, RegistryEntry>();
  const clientIds = new Map<string, string>();
  const where = new Map<string, number>();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    add('(root)', raw === null || raw === undefined ? 'an empty file' : show(typeof raw), 'a mapping with a users: list');
    throw configError(problems);
  }
  for (const k of Object.keys(raw)) if (k !== 'users') add(k, secretish(k) ? '(hidden)' : show((raw as Record<string, unknown>)[k]), 'a known key here: users');
  const list = (raw as Record<string, unknown>).users;
  if (!Array.isArray(list)) add('users', show(list), 'a list of entries (username, site, device, passwordHash, role)');
  for (const [i, item] of (Array.isArray(list) ? list : []).entries()) {
    const e = (typeof item === 'object' && item !== null && !Array.isArray(item) ? item : {}) as Record<string, unknown>;
    const name = typeof e.username === 'string' ? e.username : undefined;
    const at = (field: string): string => `users[${i}]${name ? ` (${name})` : ''}.${field}`;
    if (e !== item) {
      add(`users[${i}]`, show(item), 'a mapping: username, site, device, passwordHash, role');
      continue;
    }
    for (const k of Object.keys(e)) {
      if (!FIELDS.includes(k)) add(at(k), secretish(k) ? '(hidden)' : show(e[k]), `a known field: one of ${FIELDS.join(', ')}${/^pass/i.test(k) ? ' (the registry holds password hashes only: make one with driftline registry hash)' : ''}`);
    }
    const role = e.role === undefined ? 'device' : e.role;
    if (!ROLES.includes(role as Role)) add(at('role'), show(e.role), `one of ${ROLES.join(', ')} (default device)`);
    if (name === undefined || !USERNAME.test(name)) add(at('username'), show(e.username), `a username matching ${USERNAME}`);
    else if (where.has(name)) add(at('username'), show(name), `a username not already used by users[${where.get(name)}]`);
    const seg = (field: 'site' | 'device', required: boolean): string | undefined => {
      const v = e[field];
      if (v === undefined) {
        if (required) add(at(field), 'nothing', `a topic segment matching ${SEGMENT} (required for role ${String(role)})`);
        return undefined;
      }
      if (typeof v !== 'string' || !SEGMENT.test(v)) return void add(at(field), show(v), `a topic segment matching ${SEGMENT}`);
      if (field === 'site' && v === 'alerts') return void add(at(field), show(v), 'a site other than "alerts" (driftline/v1/alerts/ is the collector\'s)');
      return v;
    };
    let site: string | undefined;
    let device: string | undefined;
    if (role === 'device') {
      site = seg('site', true);
      device = seg('device', true);
    } else if (role === 'viewer') {
      site = seg('site', false); // a viewer with a site sees only that site
      if (e.device !== undefined) add(at('device'), show(e.device), 'nothing: a viewer has no device (a site may scope it)');
    } else if (role === 'collector') {
      for (const f of ['site', 'device'] as const) if (e[f] !== undefined) add(at(f), show(e[f]), 'nothing: a collector reads every site');
    }
    let clientId: string | undefined;
    if (e.clientId !== undefined) {
      if (typeof e.clientId !== 'string' || !CLIENT_ID.test(e.clientId)) add(at('clientId'), show(e.clientId), `a client id matching ${CLIENT_ID}`);
      else clientId = e.clientId;
    }
    let hash: ScryptHash | undefined;
    if (typeof e.passwordHash !== 'string') add(at('passwordHash'), e.passwordHash === undefined ? 'nothing' : '(hidden)', HASH_FORMAT);
    else {
      const parsed = parseHash(e.passwordHash);
      if (typeof parsed === 'string') add(at('passwordHash'), '(hidden)', `${HASH_FORMAT}: ${parsed}`);
      else hash = parsed;
    }
    const claim = clientId ?? (role === 'device' && site && device ? agentClientId(site, device) : undefined);
    if (claim !== undefined && name !== undefined) {
      const other = clientIds.get(claim);
      if (other !== undefined && other !== name) add(at('clientId'), show(claim), `a client id no other entry claims (${other} does${clientId ? '' : ": it is this device's agent default; set clientId on one of them"})`);
      else clientIds.set(claim, name);
    }
    if (name !== undefined && USERNAME.test(name) && !where.has(name)) where.set(name, i);
    if (name !== undefined && hash) {
      users.set(name, Object.freeze({ username: name, role: role as Role, hash, ...(site ? { site } : {}), ...(device ? { device } : {}), ...(clientId ? { clientId } : {}) }));
    }
  }
  if (problems.length) throw configError(problems);
  return Object.freeze({ file, users, clientIds });
}

/** Reads and validates the registry file named by broker.registry. */
export function loadRegistry(file: string): Registry {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: 'broker.registry', value: file, expected: `a readable device registry file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }, { cause: e });
  }
  // The YAML library's own messages quote the lines around a syntax error, which would put hashes
  // in a log: only the position is kept.
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw configError(doc.errors.map((e) => ({ key: `broker.registry (${file})`, value: 'the file', expected: `valid YAML: ${e.message.split(':\n')[0]}` })));
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (e) {
    throw configError([{ key: `broker.registry (${file})`, value: 'the file', expected: `valid YAML: ${(e as Error).message.split(':\n')[0]}` }]);
  }
  return validateRegistry(raw, file);
}
