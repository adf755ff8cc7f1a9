import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per application instance (not prom-client's global one), so several
 * instances in one process - as in the tests - do not clash.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'incidentd_' });
  const httpRequestDuration = new Histogram({
    name: 'incidentd_http_request_duration_seconds',
    help: 'HTTP request duration by route template, method and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const configReloads = new Counter({
    name: 'incidentd_config_reloads_total',
    help: 'Configuration reload attempts by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const loginAttempts = new Counter({
    name: 'incidentd_login_attempts_total',
    help: 'Browser login attempts by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return { registry, httpRequestDuration, configReloads, loginAttempts };
}
export type Metrics = ReturnType<typeof createMetrics>;
