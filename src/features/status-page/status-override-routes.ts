import { z } from 'zod';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { ConfigStore } from '../../config/config-store';
import { COMPONENT_STATUSES } from '../../config/status-page-config-schema';
import type { Clock } from '../../platform/clock';
import { NotFoundError, ValidationError } from '../../platform/errors';
import { requirePlausibleInstants } from '../../platform/plausible-time';
import type { ApiRouter } from '../../platform/http/api-router';
import type { AuditService } from '../audit/audit-service';
import type { Role } from '../auth/roles';
import { publicServices } from './status-model';
import { StatusOverrideSchema, type StatusOverride } from './status-page-entities';
import type { StatusPageService } from './status-page-service';

const EDITORS: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager'];

function presentOverride(override: StatusOverride) {
  return { component: override.serviceId, status: override.status, reason: override.reason, setBy: override.setBy, setAt: override.setAt.toISOString(), expiresAt: override.expiresAt?.toISOString() ?? null };
}

/**
 * Staff overrides of a component's status (e.g. "degraded" while a supplier is slow, before
 * any incident exists). Each one is audited, takes effect on open pages at once and lapses
 * at its expiry.
 */
export function registerStatusOverrideRoutes(api: ApiRouter, deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; audit: AuditService; statusPages: StatusPageService }) {
  const componentOf = (clientId: string, componentId: string) => {
    deps.statusPages.clientConfig(clientId);
    const service = publicServices(deps.configStore.current, clientId).find((candidate) => candidate.id === componentId);
    if (!service) throw new NotFoundError(`no public component "${componentId}" on the status page of ${clientId}`);
    return service;
  };

  api.get('/status-pages/:client/overrides', { access: { roles: EDITORS }, summary: 'Component status overrides in force on a client status page' }, async ({ em, params }) => {
    deps.statusPages.clientConfig(params.client!);
    const now = deps.clock.now();
    const rows = await em.find(StatusOverrideSchema, { clientId: params.client!, $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] }, { orderBy: { serviceId: 'asc' } });
    return { overrides: rows.map(presentOverride) };
  });

  api.post(
    '/status-pages/:client/overrides',
    {
      access: { roles: EDITORS },
      summary: 'Set a component status by hand, optionally until a given time; wins over incidents and maintenance (audited)',
      body: z.object({ component: z.string().min(1), status: z.enum(COMPONENT_STATUSES), reason: z.string().trim().min(3).max(2000), expiresAt: z.iso.datetime({ offset: true }).optional() }),
    },
    async ({ em, params, body, actor, requestId, res }) => {
      const service = componentOf(params.client!, body.component);
      const now = deps.clock.now();
      const expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
      if (expiresAt && expiresAt <= now) throw new ValidationError('invalid override', [{ path: 'expiresAt', message: 'must be in the future' }]);
      requirePlausibleInstants(now, 'planned', { expiresAt });
      const override = await em.transactional(async (tx) => {
        const existing = await tx.findOne(StatusOverrideSchema, { serviceId: service.id });
        const before = existing ? presentOverride(existing) : null;
        const row = existing ?? tx.create(StatusOverrideSchema, { serviceId: service.id, clientId: service.client, status: body.status, reason: body.reason, setBy: actor.name, setAt: now, expiresAt });
        Object.assign(row, { status: body.status, reason: body.reason, setBy: actor.name, setAt: now, expiresAt });
        deps.audit.record(tx, { actor, action: 'status_page.override_set', entityType: 'status_component', entityId: service.id, clientId: service.client, before, after: presentOverride(row), requestId });
        return row;
      });
      await deps.statusPages.refresh(service.client);
      res.status(201);
      return presentOverride(override);
    },
  );

  api.delete('/status-pages/:client/overrides/:component', { access: { roles: EDITORS }, summary: 'Clear a component status override (audited)' }, async ({ em, params, actor, requestId }) => {
    const service = componentOf(params.client!, params.component!);
    await em.transactional(async (tx) => {
      const existing = await tx.findOne(StatusOverrideSchema, { serviceId: service.id });
      if (!existing) throw new NotFoundError(`no override on "${service.id}"`);
      deps.audit.record(tx, { actor, action: 'status_page.override_cleared', entityType: 'status_component', entityId: service.id, clientId: service.client, before: presentOverride(existing), after: null, requestId });
      tx.remove(existing);
    });
    await deps.statusPages.refresh(service.client);
  });
}
