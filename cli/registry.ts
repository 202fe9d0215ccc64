/** `driftline registry`: make password hashes for the device registry, and check a registry file. */
import { renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { aclWarnings, mosquittoAcl } from '../collector/broker/mosquitto-acl.js';
import { loadRegistry } from '../collector/broker/registry.js';
import { hashPassword } from '../collector/broker/password.js';
import { driftlineError } from '../lib/errors.js';
import { parse } from './args.js';

export const summary = "make a password hash for the device registry (stdin), check a registry file, or write Mosquitto's ACL from it";

export const usage = `driftline registry hash < password-file
driftline registry check FILE
driftline registry mosquitto-acl FILE [--out ACL]

hash   reads a password from stdin (its first line) and prints its scrypt hash, the passwordHash of a
       registry entry (docs/security.md). The password never appears in an argument or the output.
         printf '%s' "$PASSWORD" | driftline registry hash
check  validates a registry file as the collector would (broker.registry) and prints how many
       users it holds per role; hashes are never printed.
mosquitto-acl
       writes Mosquitto's acl_file from a registry file: one user block per entry, each device held
       to its own site and device, the collector to reading devices and writing alerts, viewers to
       reading (docs/security.md, "Mosquitto"). To stdout, or to --out (replaced atomically, so a
       broker reloading on SIGHUP never reads half a file). Same registry, same bytes.
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { help: { type: 'boolean', short: 'h' }, out: { type: 'string', short: 'o' } }, true);
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const [action, file] = positionals;
  if (action === 'hash') {
    if (process.stdin.isTTY) process.stderr.write('password (it is echoed; end with Enter, then Ctrl-D):\n');
    const password = (await readStdin()).split(/\r?\n/)[0] ?? '';
    if (!password) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: 'no password on stdin: printf "%s" "$PASSWORD" | driftline registry hash' });
    if (password.length < 12) process.stderr.write('driftline: warning: a password under 12 characters is easy to guess offline from its hash\n');
    process.stdout.write(`${await hashPassword(password)}\n`);
    return 0;
  }
  if (action === 'check' && file !== undefined) {
    const r = loadRegistry(file);
    const roles: Record<string, number> = {};
    for (const u of r.users.values()) roles[u.role] = (roles[u.role] ?? 0) + 1;
    process.stdout.write(JSON.stringify({ file, users: r.users.size, roles }) + '\n');
    return 0;
  }
  if (action === 'mosquitto-acl' && file !== undefined) {
    const r = loadRegistry(file);
    for (const w of aclWarnings(r)) process.stderr.write(`driftline: warning: ${file}: ${w}\n`);
    const text = mosquittoAcl(r, basename(file));
    const out = values.out as string | undefined;
    if (out === undefined) process.stdout.write(text);
    else {
      const tmp = `${out}.${process.pid}.tmp`;
      writeFileSync(tmp, text, { mode: 0o644 });
      renameSync(tmp, out);
      process.stderr.write(`driftline: wrote ${out} (${r.users.size} users)\n`);
    }
    return 0;
  }
  throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `unknown registry action ${JSON.stringify(action ?? '')}; try: driftline registry hash, driftline registry check FILE, or driftline registry mosquitto-acl FILE [--out ACL]` });
}
