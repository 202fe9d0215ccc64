import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { findProgram } from '../../lib/program.js';
import { PACKAGES_FILE, explain, parseRequirements, preflight, searchPath } from '../../scripts/preflight.js';

test('.ci/packages.txt: one package a line with the program that proves it, comments ignored', () => {
  const reqs = parseRequirements(readFileSync(PACKAGES_FILE, 'utf8'));
  const ffmpeg = reqs.find((r) => r.pkg === 'ffmpeg');
  assert.deepEqual(ffmpeg && { probe: ffmpeg.probe, why: /camera sources/.test(ffmpeg.why) }, { probe: 'ffmpeg', why: true });
  assert.equal(reqs.find((r) => r.pkg === 'gstreamer1.0-plugins-good')?.probe, undefined, '`-`: nothing to probe');
  assert.equal(reqs.find((r) => r.pkg === 'gstreamer1.0-plugins-base')?.probe, 'gst:videoconvert');
  assert.ok(reqs.every((r) => /^[a-z0-9][a-z0-9.+-]+$/.test(r.pkg)), 'Debian package names only');
  assert.deepEqual(parseRequirements('# c\n\n  a  b  why not\nc - \n'), [{ pkg: 'a', probe: 'b', why: 'why not' }, { pkg: 'c', probe: undefined, why: '' }]);
});

test('on a machine without them, preflight finds every probed package missing and says how to install them', async () => {
  const r = await preflight({ PATH: '/nonexistent' });
  // Programs in the sbin folders (mosquitto) are found whatever PATH says: daemons live there.
  const probed = parseRequirements(readFileSync(PACKAGES_FILE, 'utf8')).filter((x) => x.probe && !findProgram(x.probe, '/usr/local/sbin:/usr/sbin:/sbin'));
  assert.ok(probed.length >= 8);
  assert.deepEqual(r.missing.map((m) => m.pkg), probed.map((p) => p.pkg));
  const text = explain(r);
  assert.match(text, /gstreamer1\.0-plugins-base\s+\(no GStreamer element videoconvert\)/);
  assert.match(text, new RegExp(`apt-get install -y --no-install-recommends ${probed.map((p) => p.pkg.replace(/[.+]/g, '\\$&')).join(' ')}\\n`));
});

test('daemons in the sbin folders are found even when PATH lacks them', () => {
  assert.equal(searchPath('/bin'), '/bin:/usr/local/sbin:/usr/sbin:/sbin');
  assert.equal(findProgram('mosquitto', searchPath('/nonexistent')), '/usr/sbin/mosquitto');
});

test('on this machine (set up by scripts/test.sh), nothing is missing and the broker and PostgreSQL answer', async () => {
  const r = await preflight();
  assert.deepEqual({ missing: r.missing, brokerUp: r.brokerUp, postgres: r.postgres.up }, { missing: [], brokerUp: true, postgres: true });
});

test('PostgreSQL that does not answer is named with where the tests looked', async () => {
  const r = await preflight({ ...process.env, DRIFTLINE_TEST_PG_URL: 'postgres://x@127.0.0.1:1/db' });
  assert.deepEqual(r.postgres, { at: '127.0.0.1:1', up: false });
  assert.match(explain(r), /nothing listens on 127\.0\.0\.1:1, where the tests expect PostgreSQL/);
});
