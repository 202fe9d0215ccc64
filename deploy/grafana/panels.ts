/**
 * The pieces both Driftline dashboards are made of (deploy/grafana/fleet.ts, camera.ts): PromQL
 * selectors built from the metric-name constants, Prometheus queries on the dashboard's datasource,
 * the verdict's value mappings and the drift-score thresholds, and panels of the usual sizes. The
 * Grafana Foundation SDK's builders type every option, so a misspelt one fails `tsc`; metric names
 * come only from the constants that register the metrics (agent/http/metric-names.ts,
 * collector/http/metric-names.ts, lib/process-metrics.ts), so a renamed metric is renamed here too.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, DashboardLinkBuilder, DashboardLinkType, DatasourceVariableBuilder, MappingType, QueryVariableBuilder, RowBuilder, ThresholdsConfigBuilder, ThresholdsMode, VariableRefresh, VariableSort, type ValueMapping, type ValueMappingResult } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statushistory from '@grafana/grafana-foundation-sdk/statushistory';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { Verdict } from '../../protocol/messages.js';

/** Every panel and template variable queries the Prometheus chosen in the `datasource` variable. */
export const DATASOURCE_VAR = 'datasource';
export const DATASOURCE = { type: 'prometheus', uid: `\${${DATASOURCE_VAR}}` } as const;

/**
 * A Driftline dashboard: tagged `driftline` with a link menu to the others, the last 6 hours
 * refreshed every 30 s, and the `datasource` variable every query uses.
 */
export function driftlineDashboard(title: string, uid: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['driftline'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .link(new DashboardLinkBuilder('Driftline').type(DashboardLinkType.Dashboards).tags(['driftline']).asDropdown(true).includeVars(false).keepTime(true))
    .withVariable(new DatasourceVariableBuilder(DATASOURCE_VAR).label('Prometheus').type('prometheus'));
}

/** `name{a="x",b=~"y"}`: a value that starts with `~` is a regular-expression match (`=~`). */
export function sel(name: string, labels: Readonly<Record<string, string>> = {}): string {
  const m = Object.entries(labels).map(([k, v]) => (v.startsWith('~') ? `${k}=~"${v.slice(1)}"` : `${k}="${v}"`));
  return m.length ? `${name}{${m.join(', ')}}` : name;
}

/** `rate(sel[$__rate_interval])`: Grafana widens $__rate_interval to cover at least four scrapes. */
export const rate = (selector: string): string => `rate(${selector}[$__rate_interval])`;

/** The series of `selector` only where the same target also exposes `marker`: the standard process metrics of one kind of Driftline process, whatever its job is called. */
export const onTargetsOf = (selector: string, marker: string): string => `${selector} and on (instance) ${marker}`;

/** A template variable: the values of `label` on the series of `selector`, refreshed with the time range. */
export function labelValues(name: string, label: string, selector: string): QueryVariableBuilder {
  const query = `label_values(${selector}, ${label})`;
  return new QueryVariableBuilder(name).datasource(DATASOURCE).query(query).definition(query).refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc);
}

/** One Prometheus query; refIds are A, B, … in the order a panel lists them. */
export interface Query {
  readonly expr: string;
  readonly legend?: string;
  /** Evaluated at the dashboard's end time only (stat and table panels). */
  readonly instant?: boolean;
  /** Table-formatted (one row per series, labels as columns). */
  readonly table?: boolean;
}

function target(q: Query, i: number): DataqueryBuilder {
  const b = new DataqueryBuilder()
    .datasource(DATASOURCE)
    .refId(String.fromCharCode(65 + i))
    .expr(q.expr);
  if (q.legend) b.legendFormat(q.legend);
  if (q.instant) b.instant();
  else b.range();
  if (q.table) b.format(PromQueryFormat.Table);
  return b;
}

/** Gives each panel of a dashboard its id, 1, 2, … in the order built (links and shares name panels by id). */
export class PanelIds {
  private next = 1;
  take(): number {
    return this.next++;
  }
}

/** A row heading, with an id of its own. */
export const row = (ids: PanelIds, title: string): RowBuilder => new RowBuilder(title).id(ids.take());

/** The colour Grafana draws each window status in, wherever a verdict is shown. */
const STATUS_COLOURS: Readonly<Record<Verdict, string>> = { alert: 'red', warn: 'orange', ok: 'green', insufficient: 'text', unscored: 'blue' };

/** Value mappings of a verdict gauge (2 alert, 1 warn, 0 ok, -1 insufficient, -2 unscored), from the values the metric is set with. */
export function verdictMappings(values: Readonly<Record<Verdict, number>>): ValueMapping[] {
  const options: Record<string, ValueMappingResult> = {};
  (Object.entries(values) as [Verdict, number][])
    .sort((a, b) => b[1] - a[1])
    .forEach(([status, v], index) => (options[String(v)] = { text: status, color: STATUS_COLOURS[status], index }));
  return [{ type: MappingType.ValueToText, options }];
}

/** Value mappings of a 0/1 gauge. */
export function booleanMappings(zero: { text: string; color: string }, one: { text: string; color: string }): ValueMapping[] {
  return [{ type: MappingType.ValueToText, options: { '0': { ...zero, index: 0 }, '1': { ...one, index: 1 } } }];
}

/** Thresholds: `base` below the first step, then each step's colour from its value up. */
export function thresholds(base: string, ...steps: { value: number; color: string }[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([{ value: null, color: base }, ...steps]);
}

const legend = (): common.VizLegendOptionsBuilder => new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom);
const tooltip = (): common.VizTooltipOptionsBuilder => new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending);

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly queries: readonly Query[];
  readonly unit?: string;
  /** Grid width (of 24) and height. */
  readonly w: number;
  readonly h: number;
}

/** A graph over time. */
export function timeseriesPanel(ids: PanelIds, s: PanelSpec): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder()
    .id(ids.take())
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .span(s.w)
    .height(s.h)
    .legend(legend())
    .tooltip(tooltip())
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .targets(s.queries.map(target));
  if (s.unit) p.unit(s.unit);
  return p;
}

/** One big number (or a label's value, with `textMode: name`), evaluated now. */
export function statPanel(ids: PanelIds, s: PanelSpec & { readonly text?: common.BigValueTextMode }): stat.PanelBuilder {
  const p = new stat.PanelBuilder()
    .id(ids.take())
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .span(s.w)
    .height(s.h)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .textMode(s.text ?? common.BigValueTextMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .targets(s.queries.map((q) => ({ ...q, instant: true })).map(target));
  if (s.unit) p.unit(s.unit);
  return p;
}

/** A row of coloured cells per series over time: a verdict map. */
export function statusHistoryPanel(ids: PanelIds, s: PanelSpec & { readonly mappings: ValueMapping[] }): statushistory.PanelBuilder {
  return new statushistory.PanelBuilder()
    .id(ids.take())
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .span(s.w)
    .height(s.h)
    .mappings(s.mappings)
    .showValue(common.VisibilityMode.Auto)
    .legend(legend().showLegend(false))
    .targets(s.queries.map(target));
}

/**
 * A table of the series now: every query instant and table-formatted, joined on their common labels
 * (`merge`), the label columns nobody reads hidden, and the value columns (`Value #A`, …) renamed.
 */
export function tablePanel(ids: PanelIds, s: PanelSpec & { readonly columns: Readonly<Record<string, string>>; readonly hide: readonly string[] }): table.PanelBuilder {
  return new table.PanelBuilder()
    .id(ids.take())
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .span(s.w)
    .height(s.h)
    .cellHeight(common.TableCellHeight.Sm)
    .targets(s.queries.map((q) => ({ ...q, instant: true, table: true })).map(target))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: { excludeByName: Object.fromEntries(['Time', '__name__', 'job', ...s.hide].map((n) => [n, true])), renameByName: s.columns },
    });
}
