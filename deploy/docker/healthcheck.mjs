// The containers' HEALTHCHECK (Dockerfile, Dockerfile.jetson): exits 0 when /healthz answers 200,
// 1 otherwise. It runs inside the container, so 127.0.0.1 reaches the service whatever its http.host.
//   DRIFTLINE_HEALTH_URL  the URL to ask; unset: the collector's (http://127.0.0.1:8080/healthz),
//                         and when nothing listens there, the agent's (http://127.0.0.1:9464/healthz).
// A port other than these defaults needs DRIFTLINE_HEALTH_URL (docs/deploy.md, "Containers").
import { get } from 'node:http';

const DEFAULTS = ['http://127.0.0.1:8080/healthz', 'http://127.0.0.1:9464/healthz'];
const TIMEOUT_MS = 4000;

/** Resolves to the status code, or to an error code such as ECONNREFUSED. */
function ask(url) {
  return new Promise((resolve) => {
    const req = get(url, { timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.once('error', (e) => resolve(e.code ?? e.message));
  });
}

const urls = process.env.DRIFTLINE_HEALTH_URL ? [process.env.DRIFTLINE_HEALTH_URL] : DEFAULTS;
let last = '';
for (const url of urls) {
  const r = await ask(url);
  if (r === 200) process.exit(0);
  last = `${url}: ${r}`;
  if (r !== 'ECONNREFUSED') break; // something answered there, and it is not healthy
}
process.stderr.write(`unhealthy: ${last}\n`);
process.exit(1);
