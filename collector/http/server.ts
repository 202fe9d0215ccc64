/**
 * The collector's HTTP side (fastify, a JSON schema on every route): health, Prometheus metrics,
 * the read API for devices, cameras, drift timelines and alerts (every list in pages: a limit and a
 * cursor, the next one in the x-next-cursor header and a Link rel="next"), the operator's page
 * (dashboard.ts) and the runbook, and the one write route, acknowledging an alert, behind a bearer
 * token. Every answer comes from the store, so any replica serves any request.
 */
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { bearerMatches } from '../../lib/bearer.js';
import type { Logger } from '../../lib/log.js';
import { THRESHOLD_LEVELS, windowLevel } from '../../protocol/levels.js';
import type { Verdict } from '../../protocol/messages.js';
import { SEGMENT_PATTERN } from '../../protocol/topics.js';
import type { AlertRecord, Awaitable, StoreQueries } from '../store/store.js';
import { pageRoutes } from './dashboard.js';

export interface HttpDeps {
  readonly store: StoreQueries;
  /** Acknowledges an alert (the rule engine; on PostgreSQL any replica, in the database). */
  readonly rules: { acknowledge(id: string, by: string, comment: string, now: number): Awaitable<AlertRecord | undefined> };
  readonly metrics: Registry;
  readonly ackToken: string;
  /** `role`: on PostgreSQL, whether this replica leads (runs the rules and notifies) or stands by. */
  readonly health: () => { broker: boolean; role?: 'leader' | 'standby' };
  /** Where internal errors are logged: a 5xx body never carries them. */
  readonly log?: Logger;
  /** The runbook served at /runbook (default: docs/runbook.md of this checkout). */
  readonly runbookFile?: string;
}

const segment = { type: 'string', pattern: SEGMENT_PATTERN } as const;
/**
 * A page size from 1 to 10,000, written in decimal digits. Not `type: integer`: fastify coerces
 * "Infinity" and "1e400" to a number that passes integer and maximum, and SQLite then refuses it.
 */
const limit = (def: number): object => ({ type: 'string', pattern: '^(10000|[1-9][0-9]{0,3})$', default: String(def) });
const anyObject = { type: 'object', additionalProperties: true } as const;
const errorBody = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } as const;

/** Validation messages name a pattern; say what it means instead. */
const PATTERNS: [string, string][] = [
  ['must match pattern "^(10000|[1-9][0-9]{0,3})$"', 'must be a whole number from 1 to 10000'],
  [`must match pattern "${SEGMENT_PATTERN}"`, 'must be a name of letters, digits, _ . - (at most 64 characters)'],
  ['must match pattern "^[0-9a-f]{16}$"', 'must be an alert id (16 hexadecimal digits)'],
];
const readable = (message: string): string => PATTERNS.reduce((m, [from, to]) => m.replace(from, to), message);

/** An opaque page cursor: the sort key of the last row of the page before, as base64url JSON. */
const cursor = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,1024}$' } as const;
const page = (def: number): object => ({ type: 'object', additionalProperties: false, properties: { limit: limit(def), cursor } });

function readCursor(raw: string | undefined, keys: number): string[] | undefined {
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== keys || v.some((k) => typeof k !== 'string')) {
    throw Object.assign(new Error('querystring/cursor is not a cursor this API handed out (copy it from the x-next-cursor header)'), { statusCode: 400 });
  }
  return v as string[];
}

/** Sets x-next-cursor and a Link rel="next" when there is a next page. */
function nextPage(reply: { header(k: string, v: string): unknown }, url: string, key: readonly string[] | undefined): void {
  if (!key) return;
  const next = Buffer.from(JSON.stringify(key)).toString('base64url');
  const u = new URL(url, 'http://x');
  u.searchParams.set('cursor', next);
  reply.header('x-next-cursor', next);
  reply.header('link', `<${u.pathname}${u.search}>; rel="next"`);
}

/**
 * Conditional GET for the read API: a page that polls gets `304 Not Modified` while nothing changed
 * (the tag is a hash of the answer, so every replica hands out the same one for the same data).
 */
function conditionalGet(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.method !== 'GET' || reply.statusCode !== 200 || typeof payload !== 'string' || !req.url.startsWith('/api/')) return payload;
    const tag = `W/"${createHash('sha1').update(payload).digest('base64url')}"`;
    reply.header('etag', tag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] !== tag) return payload;
    reply.code(304);
    return '';
  });
}

export function buildHttp(d: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 16 << 10 });
  // A client error says what was wrong with the request; a server error says nothing about the
  // inside (SQL, stack, file names): that goes to the log, with the route.
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: status === 400 ? 'bad request' : 'request refused', message: readable(err.message) });
    d.log?.error({ err: err.message, method: req.method, route: req.routeOptions.url ?? req.url.slice(0, 200) }, 'HTTP request failed');
    return reply.code(500).send({ error: 'internal error', message: 'the collector could not answer this request; its log has the details' });
  });
  conditionalGet(app);
  pageRoutes(app, { ...(d.runbookFile ? { runbookFile: d.runbookFile } : {}) });
  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, broker: { type: 'boolean' }, role: { type: 'string' } } } } } }, async () => {
    const h = d.health();
    return { ok: true, broker: h.broker, ...(h.role ? { role: h.role } : {}) };
  });
  app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (_req, reply) => reply.type(d.metrics.contentType).send(await d.metrics.metrics()));
  app.get<{ Querystring: { limit: string; cursor?: string } }>(
    '/api/v1/devices',
    { schema: { querystring: page(500), response: { 200: { type: 'array', items: anyObject }, 400: errorBody } } },
    async (req, reply) => {
      const limit = Number(req.query.limit);
      const rows = await d.store.devicePage(readCursor(req.query.cursor, 2) as [string, string] | undefined, limit + 1);
      nextPage(reply, req.url, rows.length > limit ? [rows[limit - 1]!.site, rows[limit - 1]!.device] : undefined);
      return rows.slice(0, limit).map((x) => ({ site: x.site, device: x.device, state: x.state, lastSeen: new Date(x.lastSeen).toISOString(), model: x.status.model, provider: x.status.provider, providers: x.status.providers ?? [], cameras: x.status.cameras ?? [], agent: x.status.agent }));
    },
  );
  app.get<{ Querystring: { limit: string; cursor?: string } }>(
    '/api/v1/cameras',
    { schema: { querystring: page(500), response: { 200: { type: 'array', items: anyObject }, 400: errorBody } } },
    async (req, reply) => {
      const limit = Number(req.query.limit);
      const rows = await d.store.cameraPage(readCursor(req.query.cursor, 3) as [string, string, string] | undefined, limit + 1);
      const last = rows[limit - 1];
      nextPage(reply, req.url, rows.length > limit && last ? [last.site, last.device, last.camera] : undefined);
      return rows.slice(0, limit).map((c) => ({ ...c, lastEnd: new Date(c.lastEnd).toISOString(), lastReceived: new Date(c.lastReceived).toISOString() }));
    },
  );
  app.get<{ Params: { site: string; device: string; camera: string }; Querystring: { since?: string; limit: string; before?: string } }>(
    '/api/v1/cameras/:site/:device/:camera/timeline',
    {
      schema: {
        params: { type: 'object', required: ['site', 'device', 'camera'], properties: { site: segment, device: segment, camera: segment } },
        querystring: { type: 'object', additionalProperties: false, properties: { since: { type: 'string', format: 'date-time' }, limit: limit(500), before: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' } } },
        response: { 200: { type: 'array', items: anyObject }, 400: errorBody },
      },
    },
    async (req) => {
      const { site, device, camera } = req.params;
      const since = req.query.since ? Date.parse(req.query.since) : 0;
      // Pages go back in time: `before` is the seq of the oldest window of the page already read.
      return (await d.store.timeline(site, device, camera, since, Number(req.query.limit), req.query.before ? Number(req.query.before) : undefined)).map((r) => ({
        ...r,
        start: new Date(r.start).toISOString(),
        end: new Date(r.end).toISOString(),
        // The window on the threshold scale (warn 1, alert 2), for a chart with the thresholds drawn.
        level: windowLevel({ status: r.status as Verdict, familyScores: r.familyScores, drivers: r.drivers }) ?? null,
      }));
    },
  );
  app.get<{ Params: { site: string; device: string; camera: string } }>(
    '/api/v1/cameras/:site/:device/:camera',
    {
      schema: {
        params: { type: 'object', required: ['site', 'device', 'camera'], properties: { site: segment, device: segment, camera: segment } },
        response: { 200: anyObject, 400: errorBody, 404: errorBody },
      },
    },
    async (req, reply) => {
      const { site, device, camera } = req.params;
      const [c, dev] = await Promise.all([d.store.camera(site, device, camera), d.store.device(site, device)]);
      if (!c && !dev?.status.cameras?.includes(camera)) return reply.code(404).send({ error: 'not found', message: `no camera ${site}/${device}/${camera}` });
      const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
      return {
        site,
        device,
        camera,
        lastSeq: c?.lastSeq ?? 0,
        lastEnd: iso(c?.lastEnd),
        lastStatus: c?.lastStatus ?? null,
        lastReceived: iso(c?.lastReceived),
        deviceState: dev?.state ?? null,
        windowSeconds: dev?.status.windowSeconds ?? null,
        // Where the timeline's `level` puts the verdict's thresholds.
        levels: THRESHOLD_LEVELS,
        alerts: await d.store.alerts({ state: 'firing', site, device, camera, limit: 50 }),
      };
    },
  );
  app.get<{ Querystring: { state: 'firing' | 'resolved' | 'all'; limit: string; cursor?: string; site?: string; device?: string; camera?: string } }>(
    '/api/v1/alerts',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { state: { enum: ['firing', 'resolved', 'all'], default: 'firing' }, limit: limit(200), cursor, site: segment, device: segment, camera: segment },
          // A device is named within its site, a camera within its device.
          dependencies: { device: ['site'], camera: ['site', 'device'] },
        },
        response: { 200: { type: 'array', items: anyObject }, 400: errorBody },
      },
    },
    async (req, reply) => {
      const limit = Number(req.query.limit);
      const before = readCursor(req.query.cursor, 2) as [string, string] | undefined;
      const { site, device, camera } = req.query;
      const scope = { ...(site ? { site } : {}), ...(device ? { device } : {}), ...(camera ? { camera } : {}) };
      const rows = await d.store.alerts({ ...(req.query.state === 'all' ? {} : { state: req.query.state }), limit: limit + 1, ...(before ? { before } : {}), ...scope });
      const last = rows[limit - 1];
      nextPage(reply, req.url, rows.length > limit && last ? [last.updatedAt, last.id] : undefined);
      return rows.slice(0, limit);
    },
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/alerts/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } }, response: { 200: anyObject, 404: errorBody } } },
    async (req, reply) => (await d.store.alert(req.params.id)) ?? reply.code(404).send({ error: 'not found', message: `no alert ${req.params.id}` }),
  );
  app.post<{ Params: { id: string }; Body: { by: string; comment?: string } }>(
    '/api/v1/alerts/:id/ack',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } },
        body: { type: 'object', required: ['by'], additionalProperties: false, properties: { by: { type: 'string', minLength: 1, maxLength: 128 }, comment: { type: 'string', maxLength: 2000 } } },
        response: { 200: anyObject, 401: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (req, reply) => {
      if (!d.ackToken) return reply.code(403).send({ error: 'forbidden', message: 'acknowledging is off: set http.ackToken (or DRIFTLINE_COLLECTOR_HTTP__ACK_TOKEN) on the collector' });
      if (!bearerMatches(req.headers.authorization, d.ackToken)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid Authorization: Bearer <token> header is required' });
      const a = await d.rules.acknowledge(req.params.id, req.body.by, req.body.comment ?? '', Date.now());
      return a ?? reply.code(404).send({ error: 'not found', message: `no alert ${req.params.id}` });
    },
  );
  return app;
}
