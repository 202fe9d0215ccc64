/**
 * The operator's page, served by the collector itself with no build step and no network: plain HTML
 * shells, one script and one style sheet from collector/web/, uPlot from node_modules, and the
 * runbook rendered from docs/runbook.md. Everything the page shows it reads from the API, which
 * every replica answers from the store, so any replica serves the page and its live updates (it
 * polls; answers that did not change come back 304).
 *
 *   /                 active alerts, the fleet (devices: state, provider, model; cameras: latest
 *                     verdict) and, with ?site=&device=&camera=, that camera's drift timeline
 *   /alerts/{id}      one alert: evidence, review frames with their boxes, acknowledge, history
 *   /runbook          docs/runbook.md, with GitHub's heading anchors
 *   /assets/{file}    the script, the style sheet, uPlot
 *
 * Device-chosen text (names, evidence) reaches the page only through the script's escaping or as
 * text nodes; the Content-Security-Policy allows scripts from this origin only, in case it did not.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { renderMarkdown } from './runbook.js';

const require = createRequire(import.meta.url);
const WEB = new URL('../web/', import.meta.url);
const RUNBOOK = new URL('../../docs/runbook.md', import.meta.url);

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const FILES: Record<string, { path: string | URL; type: string }> = {
  'app.js': { path: new URL('app.js', WEB), type: 'text/javascript; charset=utf-8' },
  'app.css': { path: new URL('app.css', WEB), type: 'text/css; charset=utf-8' },
  'favicon.svg': { path: new URL('favicon.svg', WEB), type: 'image/svg+xml' },
  'uPlot.iife.min.js': { path: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const tagOf = (body: Buffer | string): string => `"${createHash('sha1').update(body).digest('base64url')}"`;

function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const [name, f] of Object.entries(FILES)) {
    const body = readFileSync(f.path);
    out.set(name, { body, type: f.type, etag: tagOf(body) });
  }
  return out;
}

/**
 * Scripts and styles from this origin only; review frames arrive as blobs fetched from the agents
 * (connect-src), so images need no other origin.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src *; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function shell(title: string, page: string, main: string, scripts = true): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/uPlot.min.css"><link rel="stylesheet" href="/assets/app.css">
${scripts ? '<script src="/assets/app.js" defer></script><script src="/assets/uPlot.iife.min.js" defer></script>\n' : ''}</head>
<body data-page="${page}">
<a class="skip" href="#main">Skip to content</a>
<header><p class="brand"><a href="/">Driftline collector</a></p>
<nav aria-label="Collector"><a href="/">Fleet</a> <a href="/runbook">Runbook</a> <a href="/api/v1/alerts">API</a> <a href="/metrics">Metrics</a></nav></header>
<p id="status" role="status" aria-live="polite"></p>
<main id="main">
${main}
</main></body></html>
`;
}

const FLEET = shell(
  'Driftline collector',
  'fleet',
  `<h1>Fleet</h1>
<section aria-labelledby="alerts-h"><h2 id="alerts-h">Active alerts</h2>
<table id="alerts"><thead><tr><th scope="col">Fired</th><th scope="col">Drift started</th><th scope="col">Severity</th><th scope="col">Alert</th><th scope="col">Cause</th><th scope="col">Acknowledged</th></tr></thead><tbody></tbody></table></section>
<section id="timeline" aria-labelledby="timeline-h" hidden><h2 id="timeline-h">Drift timeline</h2>
<p id="timeline-drift"></p><div id="chart" class="chart"></div>
<p class="note">Each point is one window, placed on the threshold scale: 1 is the warn threshold and 2 the alert threshold of every score, so the two dashed lines are the verdict's own thresholds. The level is the largest family score of the window; toggle the families in the legend. Gaps are windows that were not judged (too few frames).</p></section>
<section aria-labelledby="fleet-h"><h2 id="fleet-h">Devices and cameras</h2><p id="fleet-summary"></p>
<table id="fleet"><thead><tr><th scope="col">Device</th><th scope="col">State</th><th scope="col">Provider</th><th scope="col">Model</th><th scope="col">Agent</th><th scope="col">Last seen</th><th scope="col">Cameras (latest verdict)</th></tr></thead><tbody></tbody></table></section>`,
);

const ALERT = shell(
  'Alert · Driftline collector',
  'alert',
  `<h1 id="alert-title">Alert</h1>
<dl id="alert-facts" class="facts"></dl>
<section id="ack" aria-labelledby="ack-h"><h2 id="ack-h">Acknowledge</h2><p id="ack-state"></p>
<form id="ack-form"><label>Your name <input name="by" required maxlength="128" autocomplete="name"></label>
<label>Comment <input name="comment" maxlength="2000"></label>
<label>Acknowledge token <input name="token" type="password" required autocomplete="off"></label>
<button type="submit">Acknowledge</button> <button type="button" id="forget-token">Forget token</button>
<p class="note">The token (the collector's <code>http.ackToken</code>) is kept in this tab only (sessionStorage), never on disk.</p></form>
<p id="ack-result" role="status" aria-live="polite"></p></section>
<section id="evidence" aria-labelledby="evidence-h"><h2 id="evidence-h">Evidence</h2><div id="evidence-body"></div></section>
<section id="review" aria-labelledby="review-h"><h2 id="review-h">Review frames</h2><div id="review-body"></div></section>
<section id="timeline" aria-labelledby="timeline-h" hidden><h2 id="timeline-h">Drift timeline</h2>
<p id="timeline-drift"></p><div id="chart" class="chart"></div>
<p class="note">The threshold scale: 1 is the warn threshold and 2 the alert threshold of every score. The dotted lines mark where the drift started and when the alert fired.</p></section>
<section aria-labelledby="history-h"><h2 id="history-h">Resolved alerts of this <span id="history-of">camera</span></h2>
<table id="history"><thead><tr><th scope="col">Fired</th><th scope="col">Drift started</th><th scope="col">Resolved</th><th scope="col">Severity</th><th scope="col">Alert</th><th scope="col">Acknowledged</th></tr></thead><tbody></tbody></table></section>`,
);

export interface PageOptions {
  /** The runbook to render at /runbook (default: docs/runbook.md of this checkout). */
  readonly runbookFile?: string;
}

function htmlPage(reply: FastifyReply, html: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .send(html);
}

export function pageRoutes(app: FastifyInstance, o: PageOptions = {}): void {
  const assets = loadAssets();
  let runbook: string | undefined;
  const html = { 200: { type: 'string' } } as const;
  app.get('/', { schema: { response: html } }, async (_req, reply) => htmlPage(reply, FLEET));
  app.get('/alerts/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } }, response: html } }, async (_req, reply) => htmlPage(reply, ALERT));
  app.get('/runbook', { schema: { response: { ...html, 404: { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } } } }, async (_req, reply) => {
    if (runbook === undefined) {
      const file = o.runbookFile ?? RUNBOOK;
      let md: string;
      try {
        md = readFileSync(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        return reply.code(404).send({ error: 'not found', message: `the runbook is not installed beside the collector (${String(file)})` });
      }
      runbook = shell('Runbook · Driftline collector', 'runbook', `<article class="runbook">${renderMarkdown(md).html}</article>`, false);
    }
    return htmlPage(reply, runbook);
  });
  app.get<{ Params: { file: string } }>(
    '/assets/:file',
    { schema: { params: { type: 'object', properties: { file: { type: 'string', pattern: '^[A-Za-z0-9.]{1,64}$' } } } } },
    async (req, reply) => {
      const a = assets.get(req.params.file);
      if (!a) return reply.code(404).send({ error: 'not found', message: `no asset ${req.params.file}` });
      // Revalidated on each load (cheap: 304), so an upgraded collector never serves a stale script.
      reply.header('etag', a.etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
      if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
      return reply.type(a.type).send(a.body);
    },
  );
}
