import { z } from 'zod';
import { NotFoundError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import type { Clock } from '../../platform/clock';
import type { AuditService } from '../audit/audit-service';
import { AlertSchema, type Alert } from '../alert-intake/intake-entities';
import { formatIncidentId } from './incident-rules';

function present(alert: Alert) {
  return {
    id: alert.id,
    integration: alert.integration,
    fingerprint: alert.fingerprint,
    groupKey: alert.groupKey,
    status: alert.status,
    startsAt: alert.startsAt.toISOString(),
    labels: alert.labels,
    attempts: alert.attempts,
    error: alert.lastError,
    parkedAt: alert.parkedAt?.toISOString() ?? null,
    triageIncident: alert.parkedIncident ? formatIncidentId(alert.parkedIncident.number) : null,
    deliveryId: alert.lastDeliveryId,
  };
}

/** Alerts parked as poison (poison-alerts.ts): admins see them and send them through again. */
export function registerPoisonAlertRoutes(api: ApiRouter, deps: { clock: Clock; audit: AuditService; onRetried: () => void }) {
  api.get(
    '/poison-alerts',
    {
      access: { roles: ['admin'] },
      summary: 'Alerts parked as poison (the processor failed on them repeatedly), newest first, with the error and their triage incident',
      query: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(100),
        before: z.coerce.number().int().min(1).optional().describe('paging: only alerts with a smaller id'),
      }),
    },
    async ({ em, query }) => {
      const rows = await em.find(
        AlertSchema,
        { parkedAt: { $ne: null }, ...(query.before ? { id: { $lt: String(query.before) } } : {}) },
        { orderBy: { id: 'desc' }, limit: query.limit, populate: ['parkedIncident'] },
      );
      return { items: rows.map(present) };
    },
  );

  api.post(
    '/poison-alerts/:id/retry',
    { access: { roles: ['admin'] }, summary: 'Send a parked alert through the processor again (after the cause was fixed); it keeps its place in its group' },
    async ({ em, params, actor }) => {
      const alert = /^\d{1,18}$/.test(params.id ?? '') ? await em.findOne(AlertSchema, { id: params.id!, parkedAt: { $ne: null } }, { populate: ['parkedIncident'] }) : null;
      if (!alert) throw new NotFoundError(`no parked alert ${params.id}`);
      const before = { parkedAt: alert.parkedAt!.toISOString(), attempts: alert.attempts, error: alert.lastError };
      alert.parkedAt = null;
      alert.attempts = 0;
      alert.retryAt = null;
      alert.needsProcessing = true;
      deps.audit.record(em, { actor, action: 'alert.retried', entityType: 'alert', entityId: alert.id, before, after: { parkedAt: null, attempts: 0, at: deps.clock.now().toISOString() } });
      await em.flush();
      deps.onRetried();
      return present(alert);
    },
  );
}
