import { Counter, Histogram, type Registry } from 'prom-client';

export type IntakeMetrics = ReturnType<typeof createIntakeMetrics>;

export function createIntakeMetrics(registry: Registry) {
  const metrics = {
    alertsReceived: new Counter({
      name: 'incidentd_alerts_received_total',
      help: 'Alerts received in accepted webhooks, by integration and alert status',
      labelNames: ['integration', 'status'] as const,
      registers: [registry],
    }),
    webhookRejected: new Counter({
      name: 'incidentd_webhook_rejected_total',
      help: 'Webhooks not accepted, by reason (unauthorized, invalid_payload, malformed_json, too_large, overloaded, unavailable)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    ingestSeconds: new Histogram({
      name: 'incidentd_ingest_seconds',
      help: 'Time to validate and durably store one webhook (receipt to commit)',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
  // The usual reasons start at 0, so the first rejection of each shows in rate() and increase().
  for (const reason of ['unauthorized', 'invalid_payload', 'malformed_json', 'too_large', 'overloaded', 'unavailable']) metrics.webhookRejected.inc({ reason }, 0);
  return metrics;
}
