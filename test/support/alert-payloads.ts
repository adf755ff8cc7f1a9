import { createHash } from 'node:crypto';

export const AM_TOKEN = 'dev-only-alertmanager-token-change-me';
export const GENERIC_TOKEN = 'dev-only-generic-token-change-me';

export interface TestAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  status?: 'firing' | 'resolved';
  startsAt?: string;
  endsAt?: string;
}

/** An Alertmanager v4 webhook body as Alertmanager 0.25 sends it. */
export function alertmanagerPayload(groupKey: string, alerts: TestAlert[], extra: { truncatedAlerts?: number } = {}) {
  const built = alerts.map((alert) => ({
    status: alert.status ?? 'firing',
    labels: alert.labels,
    annotations: alert.annotations ?? { summary: `${alert.labels.alertname} on ${alert.labels.instance ?? 'somewhere'}` },
    startsAt: alert.startsAt ?? '2026-03-02T09:58:00.000Z',
    endsAt: alert.endsAt ?? (alert.status === 'resolved' ? '2026-03-02T10:05:00.000Z' : '0001-01-01T00:00:00Z'),
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
    fingerprint: createHash('sha256').update(JSON.stringify(Object.entries(alert.labels).sort())).digest('hex').slice(0, 16),
  }));
  return {
    version: '4',
    groupKey,
    truncatedAlerts: extra.truncatedAlerts ?? 0,
    status: built.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'incidentd',
    groupLabels: { alertname: alerts[0]?.labels.alertname ?? '' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: built,
  };
}
