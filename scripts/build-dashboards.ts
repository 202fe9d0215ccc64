/**
 * `npm run build:dashboards`: writes the Grafana dashboards built by deploy/grafana/dashboards.ts to
 * deploy/grafana/dashboards/*.json, which are committed. `--check` writes nothing and exits 1 when a
 * committed file differs from what the code builds (test/deploy/grafana.test.ts checks the same).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DASHBOARDS, DASHBOARDS_DIR, dashboardJson, panelExpressions, type DashboardJson } from '../deploy/grafana/dashboards.js';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const dir = fileURLToPath(DASHBOARDS_DIR);
let stale = 0;
if (!values.check) await mkdir(dir, { recursive: true });
for (const { file, build } of DASHBOARDS) {
  const built = build();
  const text = dashboardJson(built);
  const path = `${dir}${file}`;
  const committed = await readFile(path, 'utf8').catch(() => '');
  const panels = panelExpressions(built as DashboardJson).length;
  if (values.check) {
    if (committed !== text) {
      stale++;
      process.stderr.write(`${path} differs from what the code builds: run npm run build:dashboards\n`);
    } else process.stdout.write(`${path}: up to date (${panels} expressions)\n`);
    continue;
  }
  if (committed === text) process.stdout.write(`${path}: unchanged (${panels} expressions)\n`);
  else {
    await writeFile(path, text);
    process.stdout.write(`${path}: written (${panels} expressions)\n`);
  }
}
if (stale) process.exit(1);
