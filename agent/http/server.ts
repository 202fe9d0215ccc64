/**
 * The agent's HTTP listener (fastify, with the collector's conventions: a JSON schema on every route,
 * a client error says what was wrong, a server error says nothing about the inside). It answers the
 * questions asked of an edge box from outside: is it alive (/healthz, for the container healthcheck
 * and the watchdog), is it doing its job (/readyz), what are its numbers (/metrics, for Prometheus),
 * and what did the model find hard (/review, the review frames). It only reads: nothing here changes
 * the agent.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { driftlineError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { Wedged } from '../pipeline/liveness.js';
import type { Readiness } from './ready.js';
import { REVIEW_PATTERNS, reviewRoutes, type ReviewAccess } from './review-routes.js';
import type { Db } from '../store/database.js';

export interface AgentHttpDeps {
  /** The liveness check (pipeline/liveness.ts pipelineWedged), and how to say it in a sentence. */
  readonly liveness: () => { readonly wedged: readonly Wedged[]; readonly message: string };
  readonly readiness: () => Readiness;
  readonly metrics: Registry;
  /** Review frames: the store indexing them, their folder, and who may read them. */
  readonly review: { readonly db: Db; readonly dir: string; readonly access: ReviewAccess };
  /** Where internal errors are logged: a 5xx body never carries them. */
  readonly log?: Logger;
}

const errorBody = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } as const;
const anyObject = { type: 'object', additionalProperties: true } as const;
const readable = (message: string): string => REVIEW_PATTERNS.reduce((m, [from, to]) => m.replace(from, to), message);

export function buildAgentHttp(d: AgentHttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 10 });
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: status === 400 ? 'bad request' : 'request refused', message: readable(err.message) });
    d.log?.error({ err: err.message, method: req.method, route: req.routeOptions.url ?? req.url.slice(0, 200) }, 'HTTP request failed');
    return reply.code(500).send({ error: 'internal error', message: 'the agent could not answer this request; its log has the details' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not found', message: `no route ${req.method} ${req.url.slice(0, 200)}; the agent serves /healthz, /readyz, /metrics and /review` }));
  app.get(
    '/healthz',
    {
      schema: {
        response: {
          200: { type: 'object', properties: { ok: { type: 'boolean' } } },
          503: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              error: { type: 'string' },
              message: { type: 'string' },
              wedged: { type: 'array', items: { type: 'object', properties: { camera: { type: 'string' }, waitingSeconds: { type: 'number' }, lastFrameSecondsAgo: { type: 'number' } } } },
            },
          },
        },
      },
    },
    async (_req, reply) => {
      const l = d.liveness();
      if (l.wedged.length === 0) return { ok: true };
      return reply.code(503).send({ ok: false, error: 'pipeline wedged', message: l.message, wedged: l.wedged });
    },
  );
  app.get(
    '/readyz',
    {
      schema: {
        response: {
          200: { type: 'object', properties: { ready: { type: 'boolean' }, checks: anyObject } },
          503: { type: 'object', properties: { ready: { type: 'boolean' }, error: { type: 'string' }, message: { type: 'string' }, reasons: { type: 'array', items: { type: 'string' } }, checks: anyObject } },
        },
      },
    },
    async (_req, reply) => {
      const r = d.readiness();
      if (r.ready) return { ready: true, checks: r.checks };
      return reply.code(503).send({ ready: false, error: 'not ready', message: r.reasons.join('; '), reasons: r.reasons, checks: r.checks });
    },
  );
  app.get('/metrics', { schema: { response: { 200: { type: 'string' }, 500: errorBody } } }, async (_req, reply) => reply.type(d.metrics.contentType).send(await d.metrics.metrics()));
  reviewRoutes(app, d.review);
  return app;
}

/** Where the listener is: what the start-up log says and what RunningAgent.http holds. */
export interface HttpAddress {
  readonly host: string;
  /** The port bound (the ephemeral one when http.port is 0). */
  readonly port: number;
  readonly url: string;
}

/** Opens the listener; a port in use, refused or an address not on this machine is DRIFTLINE_ERR_LISTEN naming http.host and http.port. */
export async function listenAgentHttp(app: FastifyInstance, host: string, port: number): Promise<HttpAddress> {
  try {
    await app.listen({ host, port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      const hint =
        code === 'EADDRINUSE'
          ? 'another process (another agent?) holds it: choose another port with http.port (DRIFTLINE_HTTP__PORT), or stop what holds it'
          : code === 'EACCES'
            ? 'ports below 1024 need privileges: choose a port above 1023 with http.port (DRIFTLINE_HTTP__PORT)'
            : 'this machine has no such address: set http.host (DRIFTLINE_HTTP__HOST) to one of its addresses, 127.0.0.1 or 0.0.0.0';
      throw driftlineError('DRIFTLINE_ERR_LISTEN', { what: "the agent's HTTP listener (/healthz, /readyz, /metrics)", address: `${host}:${port}`, code, key: 'http.port', hint }, { cause: e });
    }
    throw e;
  }
  const a = app.server.address() as AddressInfo;
  const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return { host: a.address, port: a.port, url: `http://${shown}:${a.port}` };
}
