/**
 * The review frames (agent/review/sampler.ts), served read-only, so that the links in an alert's
 * evidence open an image and a page can draw the model's boxes on it: a list, each JPEG, and each
 * frame's detections as JSON. Only files indexed in the store are served, by a name that cannot
 * leave the review folder.
 *
 * Access: with http.reviewToken set, every request needs `Authorization: Bearer <token>`. Without a
 * token they are served on a loopback address only: on a listener others can reach, they are off
 * until a token is set (an image of the line is not for anyone on the plant network).
 *
 * CORS, for the collector's alert page, which fetches a frame and its detections from the agent (the
 * evidence links point here) to draw the boxes over the image: GET and its preflight only. With a
 * token, any origin may ask (`*`, no cookies): a page reads a frame only if its user gave it the
 * token, which works from anywhere anyway. Without one (loopback), only pages served from a loopback
 * origin may read them, so a web site open in a browser on the box cannot.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { bearerMatches } from '../../lib/bearer.js';
import { isLoopback } from '../../lib/loopback.js';
import { SEGMENT_PATTERN } from '../../protocol/topics.js';
import type { Db } from '../store/database.js';

/** Who may read review frames: anyone who reaches the listener, token holders, or nobody (and why). */
export type ReviewAccess = { readonly kind: 'open' } | { readonly kind: 'token'; readonly token: string } | { readonly kind: 'off'; readonly status: 403 | 404; readonly message: string };

/** The access rule for a listener on `host`: the token when there is one, else open on loopback only. */
export function reviewAccess(o: { readonly enabled: boolean; readonly host: string; readonly token: string }): ReviewAccess {
  if (!o.enabled) return { kind: 'off', status: 404, message: 'review frames are off on this agent (review.enabled: false)' };
  if (o.token) return { kind: 'token', token: o.token };
  if (isLoopback(o.host)) return { kind: 'open' };
  return {
    kind: 'off',
    status: 403,
    message: `review frames are not served without a token on a listener others can reach (http.host ${JSON.stringify(o.host)}): set http.reviewToken or http.reviewTokenFile (or DRIFTLINE_HTTP__REVIEW_TOKEN), then send Authorization: Bearer <token>`,
  };
}

/** A review JPEG's name as the sampler makes it: `<camera>-<ts>-<frame>.jpg`, no folder part. */
const FILE = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,250}\\.jpg$';
const fileParams = { type: 'object', required: ['file'], additionalProperties: false, properties: { file: { type: 'string', pattern: FILE } } } as const;
const errorBody = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } as const;
const frameItem = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    file: { type: 'string' },
    camera: { type: 'string' },
    time: { type: 'string' },
    ts: { type: 'integer' },
    frame: { type: 'integer' },
    reason: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    bytes: { type: 'integer' },
    image: { type: 'string' },
    detections: { type: 'string' },
  },
} as const;

const CAMERA = SEGMENT_PATTERN;
/**
 * Page size and cursor in decimal digits, not `type: integer`: fastify coerces "Infinity" and
 * "1e400" to numbers that SQLite then refuses (the collector's API learned this too).
 */
const LIMIT = '^(1000|[1-9][0-9]{0,2})$';
const BEFORE = '^[1-9][0-9]{0,14}$';

/** Validation messages name the pattern; say what it means instead. */
export const REVIEW_PATTERNS: readonly [string, string][] = [
  [`must match pattern "${FILE}"`, 'must be a review frame file name like cam-1-1717171717171-42.jpg (letters, digits, _ . -, no folder)'],
  [`must match pattern "${CAMERA}"`, 'must be a camera name of letters, digits, _ . - (at most 64 characters)'],
  [`must match pattern "${LIMIT}"`, 'must be a whole number from 1 to 1000'],
  [`must match pattern "${BEFORE}"`, 'must be a review frame id (a whole number from 1)'],
];

interface Row {
  id: number;
  camera: string;
  ts: number;
  frame: number;
  reason: string;
  file: string;
  width: number;
  height: number;
  bytes: number;
}

const COLUMNS = 'r.id, c.name AS camera, r.ts, r.frame, r.reason, r.file, r.width, r.height, r.bytes';

function listed(r: Row): Record<string, unknown> {
  const file = encodeURIComponent(r.file);
  return { ...r, time: new Date(r.ts).toISOString(), image: `/review/${file}`, detections: `/review/${file}/detections` };
}

/** The Access-Control-Allow-Origin for a request from `origin` (undefined: none, the browser keeps the answer from the page). */
export function corsOrigin(access: ReviewAccess, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  if (access.kind !== 'open') return '*'; // a token, or off: what the page can read says no more than the status
  try {
    const host = new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1');
    return isLoopback(host) ? origin : undefined;
  } catch {
    return undefined;
  }
}

function notFound(reply: FastifyReply, file: string): FastifyReply {
  return reply.code(404).send({ error: 'not found', message: `no review frame ${file} on this agent (it may have been deleted for the disk cap)` });
}

export function reviewRoutes(app: FastifyInstance, o: { readonly db: Db; readonly dir: string; readonly access: ReviewAccess }): void {
  const { db, dir, access } = o;
  const list = db.prepare(`SELECT ${COLUMNS} FROM review_samples r JOIN cameras c ON c.id = r.camera_id WHERE (@camera IS NULL OR c.name = @camera) AND r.id < @before ORDER BY r.id DESC LIMIT @limit`);
  const one = db.prepare(`SELECT ${COLUMNS}, r.detections, r.stats FROM review_samples r JOIN cameras c ON c.id = r.camera_id WHERE r.file = ? ORDER BY r.id DESC LIMIT 1`);
  void app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      const allow = corsOrigin(access, req.headers.origin);
      if (allow) {
        reply.header('access-control-allow-origin', allow);
        if (allow !== '*') reply.header('vary', 'Origin');
      }
      // The preflight a page sends before a GET with Authorization: answered before the access check
      // (it carries no token), saying what the GET may carry.
      if (req.method === 'OPTIONS') {
        reply.header('access-control-allow-methods', 'GET').header('access-control-allow-headers', 'Authorization').header('access-control-max-age', '600');
        if (allow && req.headers['access-control-request-private-network'] === 'true') reply.header('access-control-allow-private-network', 'true');
        return reply.code(204).send();
      }
      if (access.kind === 'off') return reply.code(access.status).send({ error: access.status === 404 ? 'not found' : 'forbidden', message: access.message });
      if (access.kind === 'token' && !bearerMatches(req.headers.authorization, access.token)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="driftline review frames"').send({ error: 'unauthorized', message: 'review frames need a valid Authorization: Bearer <http.reviewToken> header' });
      }
      return undefined;
    });
    for (const url of ['/review', '/review/:file', '/review/:file/detections']) scope.options(url, async (_req, reply) => reply.code(204).send());
    scope.get<{ Querystring: { camera?: string; limit: string; before?: string } }>(
      '/review',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              camera: { type: 'string', pattern: CAMERA },
              limit: { type: 'string', pattern: LIMIT, default: '100' },
              before: { type: 'string', pattern: BEFORE },
            },
          },
          response: { 200: { type: 'array', items: frameItem }, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody },
        },
      },
      async (req, reply) => {
        const limit = Number(req.query.limit);
        const rows = list.all({ camera: req.query.camera ?? null, before: req.query.before ? Number(req.query.before) : Number.MAX_SAFE_INTEGER, limit }) as Row[];
        // The next page: the frames before the last one of this page.
        if (rows.length === limit) reply.header('x-next-before', String(rows[rows.length - 1]!.id));
        return rows.map(listed);
      },
    );
    scope.get<{ Params: { file: string } }>('/review/:file', { schema: { params: fileParams, response: { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody } } }, async (req, reply) => {
      const row = one.get([req.params.file]) as Row | undefined;
      if (!row || basename(row.file) !== row.file) return notFound(reply, req.params.file);
      let jpeg: Buffer;
      try {
        jpeg = await readFile(join(dir, row.file));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return notFound(reply, req.params.file);
        throw e;
      }
      // A review frame never changes under its name (capture time and frame number): cache it for good.
      return reply
        .type('image/jpeg')
        .header('cache-control', 'private, max-age=31536000, immutable')
        .header('last-modified', new Date(row.ts).toUTCString())
        .header('x-content-type-options', 'nosniff')
        .send(jpeg);
    });
    scope.get<{ Params: { file: string } }>(
      '/review/:file/detections',
      { schema: { params: fileParams, response: { 200: { type: 'object', additionalProperties: true }, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody } } },
      async (req, reply) => {
        const row = one.get([req.params.file]) as (Row & { detections: string; stats: string }) | undefined;
        if (!row) return notFound(reply, req.params.file);
        const { detections, stats, ...rest } = row;
        reply.header('cache-control', 'private, max-age=31536000, immutable');
        // Boxes are [x1, y1, x2, y2] in the JPEG's pixels (width x height): the model's input, letterboxed.
        return { ...listed(rest), detections: JSON.parse(detections) as unknown, stats: JSON.parse(stats) as unknown };
      },
    );
  });
}
