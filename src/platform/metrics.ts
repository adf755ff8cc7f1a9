import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A registry whose scrape survives a metric that cannot be read. Several gauges are read
 * from the database at scrape time; when the database is away their queries fail, and
 * prom-client's own `metrics()` would then fail the whole scrape: Prometheus would see the
 * daemon as down and lose the process metrics and `incidentd_database_up` exactly when they
 * matter. Here such a metric is left out of that scrape (its series go stale, which says
 * "unknown", never a wrong 0) and counted in `incidentd_metric_collect_failures_total`.
 */
class ScrapeRegistry extends Registry {
  static readonly COLLECT_FAILURES = 'incidentd_metric_collect_failures_total';
  collectFailures: Counter<'metric'> | undefined;

  override async metrics(): Promise<string> {
    const failures = this.collectFailures;
    const others = this.getMetricsAsArray().filter((metric) => metric.name !== ScrapeRegistry.COLLECT_FAILURES);
    const parts = await Promise.all(
      others.map((metric) =>
        this.getSingleMetricAsString(metric.name).catch(() => {
          failures?.inc({ metric: metric.name });
          return undefined;
        }),
      ),
    );
    // The failure counter last, so the scrape in which a metric failed already counts it.
    if (failures) parts.push(await this.getSingleMetricAsString(ScrapeRegistry.COLLECT_FAILURES));
    return `${parts.filter((part) => part !== undefined).join('\n\n')}\n`;
  }
}

/**
 * One registry per application instance (not prom-client's global one), so several
 * instances in one process - as in the tests - do not clash.
 */
export function createMetrics() {
  const registry = new ScrapeRegistry();
  // Process and Node.js metrics under their standard names (process_cpu_seconds_total,
  // nodejs_eventloop_lag_seconds, ...), so the common Node.js dashboards work unchanged;
  // incidentd's own metrics carry the incidentd_ prefix.
  collectDefaultMetrics({ register: registry });
  registry.collectFailures = new Counter({
    name: ScrapeRegistry.COLLECT_FAILURES,
    help: 'Metrics left out of a scrape because they could not be read (usually: the database did not answer), by metric',
    labelNames: ['metric'] as const,
    registers: [registry],
  });
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
  return { registry: registry as Registry, httpRequestDuration, configReloads, loginAttempts };
}
export type Metrics = ReturnType<typeof createMetrics>;
