/**
 * The runbook as the collector serves it: GitHub's heading anchors, so that every link into it works,
 * the alerts' (`#<rule>`, from the rule engine), the Prometheus rules' and the docs'.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { githubSlug, renderMarkdown } from '../../../collector/http/runbook.js';
import { RULES } from '../../../collector/rules/engine.js';

const ROOT = new URL('../../../', import.meta.url);

test("headings get GitHub's anchors", () => {
  assert.equal(githubSlug('deviceOffline'), 'deviceoffline');
  assert.equal(githubSlug('DriftlineAgentDown'), 'driftlineagentdown');
  assert.equal(githubSlug('The collector itself'), 'the-collector-itself');
  assert.equal(githubSlug('Clock steps and quarantined windows'), 'clock-steps-and-quarantined-windows');
  assert.equal(githubSlug('The agents, seen by Prometheus'), 'the-agents-seen-by-prometheus');
  assert.equal(githubSlug('`http.port` & co.: what? (v2)'), 'httpport--co-what-v2');
  const r = renderMarkdown('# A\n\n## Same\n\n## Same\n\n## `code` <b>x</b>\n');
  assert.deepEqual(r.anchors, ['a', 'same', 'same-1', 'code-x']);
  assert.match(r.html, /<h2 id="same-1">/);
});

test('every link into the runbook lands on a heading: each rule the collector raises, the Prometheus rules, the docs', async () => {
  const { anchors } = renderMarkdown(await readFile(new URL('docs/runbook.md', ROOT), 'utf8'));
  for (const rule of Object.keys(RULES)) assert.ok(anchors.includes(rule.toLowerCase()), `docs/runbook.md has a heading for the ${rule} rule (#${rule.toLowerCase()})`);
  const linked: string[] = [];
  for (const dir of ['deploy/prometheus/', 'docs/']) {
    for (const f of await readdir(new URL(dir, ROOT))) {
      if (!/\.(ya?ml|md)$/.test(f)) continue;
      const text = await readFile(new URL(`${dir}${f}`, ROOT), 'utf8');
      for (const m of text.matchAll(/runbook(?:\.md)?#([a-z0-9-]+)/g)) linked.push(`${dir}${f}#${m[1]}`);
    }
  }
  assert.ok(linked.length >= 5, `links found: ${linked.length}`);
  for (const l of linked) assert.ok(anchors.includes(l.split('#')[1]!), `${l} is a heading of the runbook`);
});
