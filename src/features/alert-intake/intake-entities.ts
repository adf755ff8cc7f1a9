import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/**
 * Every webhook body exactly as received, committed before the sender gets its 2xx, so
 * an alert can be traced (and, if need be, replayed) whatever happened afterwards.
 */
export const WebhookDeliverySchema = defineEntity({
  name: 'WebhookDelivery',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    integration: p.text(),
    // alertmanager | grafana | generic
    kind: p.text(),
    receivedAt: p.datetime().index(),
    groupKey: p.text().nullable(),
    truncatedAlerts: p.integer().default(0),
    alertCount: p.integer(),
    payload: p.json<unknown>(),
  },
});
export type WebhookDelivery = InferEntity<typeof WebhookDeliverySchema>;

/**
 * One alert occurrence. Its identity is integration + fingerprint + startsAt, so
 * redeliveries (retries, both halves of an HA Alertmanager pair) update one row instead
 * of adding rows. `needsProcessing` marks rows the alert processor has not yet turned
 * into incident changes.
 */
export const AlertSchema = defineEntity({
  name: 'Alert',
  tableName: 'alert',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    integration: p.text(),
    fingerprint: p.text(),
    startsAt: p.datetime(),
    // firing | resolved
    status: p.text(),
    endsAt: p.datetime().nullable(),
    labels: p.json<Record<string, string>>(),
    annotations: p.json<Record<string, string>>(),
    generatorUrl: p.text().nullable(),
    // Alertmanager/Grafana groupKey, or the generic dedup key: alerts of one group join one incident.
    groupKey: p.text(),
    truncatedAlerts: p.integer().default(0),
    firstDeliveryId: p.bigint('string'),
    lastDeliveryId: p.bigint('string'),
    receivedAt: p.datetime(),
    changedAt: p.datetime(),
    incident: () => p.manyToOne(IncidentSchema).nullable().index(),
    needsProcessing: p.boolean().default(true),
    // The alert processor working on it (alert_processor.id); void once that processor's lease ends.
    claimedBy: p.text().nullable(),
    // Claims since it was last processed; too many and it is parked as poison.
    attempts: p.integer().default(0),
    // After a failure: not claimed again before then.
    retryAt: p.datetime().nullable(),
    lastError: p.text().nullable(),
    // Parked as poison: out of the queue until it changes or an admin retries it.
    parkedAt: p.datetime().nullable(),
    // The triage incident opened for it when it was parked.
    parkedIncident: () => p.manyToOne(IncidentSchema).nullable().index(),
  },
  uniques: [{ properties: ['integration', 'fingerprint', 'startsAt'] }],
  indexes: [
    { name: 'alert_needs_processing', expression: 'create index alert_needs_processing on alert (id) where needs_processing' },
    { name: 'alert_parked', expression: 'create index alert_parked on alert (parked_at) where parked_at is not null' },
  ],
});
export type Alert = InferEntity<typeof AlertSchema>;

/**
 * A running alert processor (one per daemon). Its claims on alerts hold while its lease is
 * renewed and its database session lives (see alert-processor-lease.ts).
 */
export const AlertProcessorSchema = defineEntity({
  name: 'AlertProcessor',
  properties: {
    id: p.text().primary(),
    host: p.text(),
    pid: p.integer(),
    startedAt: p.datetime(),
    leaseUntil: p.datetime(),
    // The processor's own database session: when it ends (the process died), so do the claims.
    backendPid: p.integer().nullable(),
    backendStart: p.datetime().nullable(),
  },
});
