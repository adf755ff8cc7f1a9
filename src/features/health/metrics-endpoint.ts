import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../../platform/logger';

export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Prometheus' scrape endpoint, `GET /metrics`, as a plain request handler. It is served on a
 * listener of its own (`server.metricsListen`), not next to the public status pages: the
 * metrics name clients and count their open incidents. With `server.metricsToken` set, a
 * scrape must carry it as a bearer token, as Prometheus exporters usually ask.
 */
export function createMetricsEndpoint(deps: { registry: Registry; token?: string; logger: Logger }): MetricsHandler {
  const expected = deps.token ? digest(deps.token) : null;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return answer(res, 404, 'not found: metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return answer(res, 405, 'method not allowed\n');
    }
    if (expected) {
      const [scheme, token] = (req.headers.authorization ?? '').split(' ', 2);
      // Compared as digests: equal length, constant time, whatever was sent.
      if (scheme?.toLowerCase() !== 'bearer' || !token || !timingSafeEqual(digest(token), expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="incidentd metrics"');
        return answer(res, 401, 'a bearer token is required (server.metricsToken)\n');
      }
    }
    deps.registry
      .metrics()
      .then((text) => {
        res.writeHead(200, { 'Content-Type': deps.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      })
      .catch((error: unknown) => {
        // A collector that reads the database failed: the scrape fails, Prometheus tries again.
        deps.logger.warn({ err: error }, 'could not collect metrics');
        res.setHeader('Retry-After', '5');
        answer(res, 503, 'metrics are unavailable right now\n');
      });
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/**
 * Opens the metrics listener. A port already taken fails the start like the main port does,
 * saying which setting moves it.
 */
export async function listenForMetrics(handler: MetricsHandler, address: { host: string; port: number }): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  // Scrapes are short: a connection Prometheus left idle is not worth keeping for long.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`cannot serve metrics on ${where}: the address is in use (another incidentd on this machine?); set server.metricsListen (the example configuration reads METRICS_LISTEN) to another port, or to off`)
          : new Error(`cannot serve metrics on ${where}: ${error.message}`),
      );
    });
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address() as { address: string; port: number };
  const host = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  return { server, url: `http://${host}:${bound.port}/metrics` };
}
