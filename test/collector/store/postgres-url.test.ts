/**
 * The collector's PostgreSQL credentials against a server that asks for a password (its own, as on a
 * fresh Debian install: test/helpers/private-postgres.ts). A password from store.passwordFile reaches
 * the server, in place of any in the URL; a refused or missing one says where it came from and never
 * shows itself; a URL whose password was not percent-encoded is refused with the config, masked.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectorConfig } from '../../../collector/config.js';
import { PostgresStore } from '../../../collector/store/postgres-store.js';
import { storeUrlProblem, withPassword } from '../../../collector/store/postgres-url.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { uniqueName } from '../../helpers/collector.js';
import { releaser } from '../../helpers/ports.js';
import { passwordPostgres } from '../../helpers/private-postgres.js';
import { driftline, untilAsync } from '../../faults/processes.js';

// Characters that break a URL unless encoded, and a quote and a percent sign besides.
const PASSWORD = "Plant#42@pw/x?y:z%41'q";

test('store URLs: what breaks one is named, with how to write it instead', () => {
  assert.equal(storeUrlProblem('postgres://driftline@db.plant:5432/driftline'), undefined);
  assert.equal(storeUrlProblem('postgres://driftline:Plant%2342%40pw@db/driftline?sslmode=require'), undefined);
  assert.equal(storeUrlProblem('postgresql:///driftline?host=/run/postgresql'), undefined, 'a socket folder instead of a host');
  assert.match(storeUrlProblem('postgres://driftline:Plant#42@pw@db/driftline')!, /parses.*percent-encode.*store\.passwordFile/);
  assert.match(storeUrlProblem('postgres://driftline:123#x@db/driftline')!, /without a #.*%23/, 'a # after a numeric "port" parses, and moves the host into the fragment');
  assert.match(storeUrlProblem('postgres:///driftline')!, /names a host/);
  assert.equal(storeUrlProblem('postgres://driftline@/driftline?host=/run/postgresql'), undefined, 'the socket form node-postgres reads with a stand-in host');
  assert.match(storeUrlProblem('postgres://driftline@/driftline')!, /names a host/);
  assert.match(storeUrlProblem('postgres://driftline:2024/spring@db/driftline')!, /no @ after its host/, 'a password that begins like a port and holds a /');
  assert.match(storeUrlProblem('postgres://driftline:50%off@db/driftline')!, /every % starts an escape.*%25/);
  assert.equal(storeUrlProblem('postgres://driftline:50%25off@db/driftline'), undefined);
  // Refused with the config, each shown masked: spaces (refused by the key's pattern) and a # too.
  for (const url of ['postgres://driftline:correct horse battery@db/driftline', 'postgres://driftline@db/driftline?password=correct horse#staple', 'postgres://driftline:a#b c@db/driftline']) {
    assert.throws(
      () => collectorConfig({ broker: { url: 'mqtt://127.0.0.1:1883' }, store: { url } }, {}),
      (e: Error) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /store\.url/.test(e.message) && !/horse|staple|a#b/.test(e.message),
      url,
    );
  }
  // The password goes in as a parameter that node-postgres reads before the URL's own, encoded.
  const u = new URL(withPassword('postgres://driftline:old@db:5432/driftline?sslmode=require', PASSWORD));
  assert.equal(u.searchParams.get('password'), PASSWORD);
  assert.equal(u.searchParams.get('sslmode'), 'require');
  assert.equal(withPassword('postgres://driftline@db/driftline', undefined), 'postgres://driftline@db/driftline');
});

test('a password from store.passwordFile reaches a server that asks for one; a refused one says where it came from and is never shown', { timeout: 120_000 }, async (t) => {
  const release = releaser(t);
  const server = await passwordPostgres(release, 'driftline_pw', PASSWORD);
  const open = async (url: string, password?: string): Promise<PostgresStore> => {
    const s = await PostgresStore.open(url, { maxSeqJump: 100, ...(password !== undefined ? { password } : {}) });
    release('store', () => s.close());
    return s;
  };
  // The URL names the role and no password: the password option must still reach the server.
  const store = await open(server.url, PASSWORD);
  assert.deepEqual(await store.cameras(), [], 'connected and migrated');
  // The file's password replaces a wrong one in the URL.
  const wrongInUrl = new URL(server.url);
  wrongInUrl.password = 'not-it';
  await open(wrongInUrl.href, PASSWORD);

  const refused = await PostgresStore.open(server.url, { maxSeqJump: 100, password: 'also-not-it' }).then(
    () => assert.fail('a wrong password was taken'),
    (e: unknown) => e,
  );
  assert.ok(isDriftlineError(refused, 'DRIFTLINE_ERR_STORE'), String(refused));
  assert.match((refused as Error).message, /password authentication failed.*the password in store\.passwordFile was refused/);
  assert.ok(!(refused as Error).message.includes('also-not-it'));

  const none = await PostgresStore.open(server.url, { maxSeqJump: 100 }).then(
    () => assert.fail('no password was taken'),
    (e: unknown) => e,
  );
  assert.ok(isDriftlineError(none, 'DRIFTLINE_ERR_STORE'), String(none));
  assert.match((none as Error).message, /asks for a password and none was given: store\.passwordFile/);

  // The socket form (no host; the folder as ?host=): the password goes in all the same.
  const socket = `postgres://${server.role}@/${server.role}?host=${encodeURIComponent(server.socketDir)}&port=${new URL(server.url).port}`;
  assert.equal(storeUrlProblem(socket), undefined);
  assert.deepEqual(await (await open(socket, PASSWORD)).cameras(), [], 'connected over the socket');

  const inUrl = new URL(server.url);
  inUrl.password = 'wrong-in-url';
  const masked = await PostgresStore.open(inUrl.href, { maxSeqJump: 100 }).then(
    () => assert.fail('a wrong password was taken'),
    (e: unknown) => e,
  );
  assert.match((masked as Error).message, /driftline_pw:\(hidden\)@.*the password from the URL, PGPASSWORD or ~\/\.pgpass was refused/);
  assert.ok(!(masked as Error).message.includes('wrong-in-url'));
});

test('a replica started from its config: the password file reaches the store and the leader lock; ~/.pgpass works, its deprecation notice a log line; an unencoded password in the URL is refused, masked', { timeout: 120_000 }, async (t) => {
  const release = releaser(t);
  const server = await passwordPostgres(release, 'driftline_replica', PASSWORD);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-store-pw-'));
  const passwordFile = join(dir, 'store-password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const id = uniqueName('pw-replica');
  const config = join(dir, 'collector.yaml');
  await writeFile(
    config,
    JSON.stringify({
      broker: { url: 'mqtt://127.0.0.1:1883', clientId: id, shared: true, shareGroup: id.replace(/-/g, '_'), reconnectMinMs: 100, reconnectMaxMs: 1000 },
      store: { url: server.url, passwordFile },
      cluster: { leaderPollSeconds: 0.5 },
      http: { port: 0 },
      notify: { mqtt: false },
    }),
  );
  const replica = driftline(release, 'replica', ['collector', '--config', config]);
  await untilAsync(() => replica.http() !== undefined || /DRIFTLINE_ERR/.test(replica.stderr()), 60_000, 'the replica to start', () => replica.stderr());
  assert.ok(replica.http(), `started: ${replica.stderr()}`);
  const started = replica.stderr().split('\n').find((l) => /collector replica started/.test(l))!;
  assert.match(started, /"storePassword":"store.passwordFile"/);
  assert.match(started, /"role":"(leader|standby)"/);
  await untilAsync(async () => ((await (await fetch(`${replica.http()}/healthz`)).json()) as { role?: string }).role === 'leader', 30_000, 'the replica to lead', () => replica.stderr());
  assert.ok(!replica.stderr().includes('Plant#42'), 'the password is never logged');

  // libpq's password file, with a URL without one: node-postgres's deprecation notice for it is a
  // line of the JSON log, not plain text on stderr.
  const pgpass = join(dir, 'pgpass');
  await writeFile(pgpass, `127.0.0.1:${new URL(server.url).port}:${server.role}:${server.role}:${PASSWORD.replace(/[\\:]/g, '\\$&')}\n`, { mode: 0o600 });
  const second = join(dir, 'second.yaml');
  const id2 = uniqueName('pw-replica');
  await writeFile(second, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), broker: { url: 'mqtt://127.0.0.1:1883', clientId: id2, shared: true, shareGroup: id.replace(/-/g, '_') }, store: { url: server.url } }));
  const standby = driftline(release, 'pgpass replica', ['collector', '--config', second], { PGPASSFILE: pgpass });
  await untilAsync(() => standby.http() !== undefined || /DRIFTLINE_ERR/.test(standby.stderr()), 60_000, 'the second replica to start', () => standby.stderr());
  assert.ok(standby.http(), `started: ${standby.stderr()}`);
  await untilAsync(() => /pgpass support is deprecated/.test(standby.stderr()), 10_000, "node-postgres's notice", () => standby.stderr());
  const lines = standby.stderr().split('\n').filter((l) => l.trim());
  for (const l of lines.slice(1)) assert.doesNotThrow(() => JSON.parse(l), `a JSON line: ${l}`); // the first may be cut by the tail kept
  const notice = lines.map((l) => JSON.parse(l) as { level: number; warning?: string; msg: string }).find((l) => /pgpass/.test(l.msg))!;
  assert.equal(notice.warning, 'DeprecationWarning');
  assert.equal(notice.level, 40, 'a warning');
  assert.match(lines.find((l) => /collector replica started/.test(l))!, /"storePassword":"none given/);

  // The same password written into the URL as it is: the config is refused before anything connects.
  const raw = `postgres://${server.role}:${PASSWORD}@127.0.0.1:${new URL(server.url).port}/${server.role}`;
  const bad = driftline(release, 'bad-url', ['collector', '--config', config, '--check'], { DRIFTLINE_COLLECTOR_STORE__URL: raw });
  assert.equal(await bad.exited, 1);
  assert.match(bad.stderr(), /DRIFTLINE_ERR_CONFIG: invalid store\.url \(from DRIFTLINE_COLLECTOR_STORE__URL\): got "postgres:\/\/driftline_replica:\(hidden\)@.*percent-encode/);
  assert.ok(!bad.stderr().includes('Plant#42') && !bad.stderr().includes('pw/x'), `masked: ${bad.stderr()}`);
});
