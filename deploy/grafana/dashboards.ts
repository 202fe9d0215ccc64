/**
 * The Driftline dashboards, and the JSON files Grafana provisions them from
 * (deploy/grafana/dashboards/, read by provisioning/dashboards/driftline.yaml). The JSON is built
 * from the code by `npm run build:dashboards` (scripts/build-dashboards.ts) and committed; a test
 * (test/deploy/grafana.test.ts) fails when the committed files differ from what the code builds, and
 * evaluates every panel's expression against a live Prometheus scraping a live agent and collector.
 */
import { cameraDashboard } from './camera.js';
import { fleetDashboard } from './fleet.js';

/** The folder the JSON lives in, next to this file. */
export const DASHBOARDS_DIR = new URL('./dashboards/', import.meta.url);

/** Each dashboard: its file under DASHBOARDS_DIR and how it is built. */
export const DASHBOARDS: readonly { readonly file: string; readonly build: () => object }[] = [
  { file: 'driftline-fleet.json', build: fleetDashboard },
  { file: 'driftline-camera.json', build: cameraDashboard },
];

/** The text written for a dashboard: two-space JSON and a final newline, so that diffs read well. */
export const dashboardJson = (d: object): string => `${JSON.stringify(d, null, 2)}\n`;

/** A dashboard as read back from its JSON: only what the checks read. */
export interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly templating?: { readonly list?: readonly { readonly name: string; readonly type: string; readonly query?: unknown }[] };
  readonly panels?: readonly PanelJson[];
}

interface PanelJson {
  readonly id?: number;
  readonly type: string;
  readonly title?: string;
  readonly targets?: readonly { readonly refId?: string; readonly expr?: string }[];
  /** A collapsed row keeps its panels inside it. */
  readonly panels?: readonly PanelJson[];
}

/** Every Prometheus expression of every panel (rows' panels included), named by panel and refId. */
export function panelExpressions(d: DashboardJson): { panel: string; refId: string; expr: string }[] {
  const out: { panel: string; refId: string; expr: string }[] = [];
  const walk = (panels: readonly PanelJson[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ panel: `${p.title ?? p.type} (#${p.id ?? '?'})`, refId: t.refId ?? '?', expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels ?? []);
  return out;
}
