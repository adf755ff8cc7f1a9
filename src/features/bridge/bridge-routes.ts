import { Router } from 'express';
import { z } from 'zod';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ForbiddenError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import type { ViewRenderer } from '../../platform/http/views';
import type { Csrf } from '../auth/csrf';
import { hasAnyRole } from '../auth/principal';
import { isClientContact } from '../incidents/incident-access';
import { presentIncident } from '../incidents/incident-presenter';
import { BRIDGE_ROLES, BRIDGE_ROLES_ALLOWED, presentTask, TASK_STATUSES, type BridgeService } from './bridge-service';

const RESPONDERS = BRIDGE_ROLES_ALLOWED;
const timestamp = z.iso.datetime({ offset: true });

/** The bridge over the API: roles, tasks, conference URL, major declaration, and the whole state. */
export function registerBridgeRoutes(api: ApiRouter, bridge: BridgeService) {
  api.get('/incidents/:id/bridge', { access: { roles: RESPONDERS }, summary: 'Everything the bridge shows: incident, SLA, client communication, roles, tasks, timeline (since=<event id> for what came after)', query: z.object({ since: z.string().regex(/^\d+$/).optional() }) }, async ({ principal, params, query, em }) =>
    bridge.snapshot(em, await bridge.loadVisible(em, params.id!, principal), { sinceEventId: query.since }),
  );

  api.post('/incidents/:id/major', { access: { roles: RESPONDERS }, summary: 'Declare a major incident (INC-11); Sev1 incidents are major from the start', body: z.object({ reason: z.string().trim().min(3).max(2000) }) }, async ({ principal, actor, params, body, requestId }) =>
    presentIncident(await bridge.declareMajor(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post(
    '/incidents/:id/roles',
    { access: { roles: RESPONDERS }, summary: `Assign a bridge role (${BRIDGE_ROLES.join(', ')} or custom:<name>); the current holder hands over`, body: z.object({ role: z.string().min(1).max(60), email: z.email() }) },
    async ({ principal, actor, params, body, requestId }) => presentIncident(await bridge.assignRole(params.id!, principal, actor, { ...body, requestId })),
  );

  api.delete('/incidents/:id/roles/:role', { access: { roles: RESPONDERS }, summary: 'Release a bridge role' }, async ({ principal, actor, params, requestId }) =>
    presentIncident(await bridge.releaseRole(params.id!, principal, actor, { role: params.role!, requestId })),
  );

  api.post(
    '/incidents/:id/conference',
    { access: { roles: RESPONDERS }, summary: 'Set (or clear with null) the conference bridge URL', body: z.object({ url: z.url({ protocol: /^https?$/ }).nullable() }) },
    async ({ principal, actor, params, body, requestId }) => presentIncident(await bridge.setConferenceUrl(params.id!, principal, actor, { url: body.url, requestId })),
  );

  api.post(
    '/incidents/:id/tasks',
    { access: { roles: RESPONDERS }, summary: 'Add a task (owner by e-mail, optional due time)', body: z.object({ title: z.string().trim().min(3).max(500), owner: z.email().optional(), dueAt: timestamp.optional() }) },
    async ({ principal, actor, params, body, requestId, res }) => {
      res.status(201);
      return presentTask(await bridge.addTask(params.id!, principal, actor, { ...body, dueAt: body.dueAt ? new Date(body.dueAt) : undefined, requestId }));
    },
  );

  api.patch(
    '/incidents/:id/tasks/:taskId',
    {
      access: { roles: RESPONDERS },
      summary: 'Edit a task; a stale expectedVersion is refused with 409 and the current task',
      body: z.object({ expectedVersion: z.number().int(), title: z.string().trim().min(3).max(500).optional(), owner: z.email().nullable().optional(), status: z.enum(TASK_STATUSES).optional(), dueAt: timestamp.nullable().optional() }),
    },
    async ({ principal, actor, params, body, requestId }) =>
      presentTask(await bridge.updateTask(params.id!, Number(params.taskId), principal, actor, { ...body, dueAt: body.dueAt ? new Date(body.dueAt) : (body.dueAt as null | undefined), requestId })),
  );
}

/** `GET /bridge/{id}`: the live page (staff sign-in); it works without JavaScript as a read-only view. */
export function createBridgePage(deps: { bridge: BridgeService; views: ViewRenderer; csrf: Csrf; orm: MikroORM }) {
  const router = Router();
  router.get('/bridge/:id', async (req, res) => {
    const principal = req.principal;
    if (!principal) return res.redirect(303, '/login');
    if (isClientContact(principal) || !hasAnyRole(principal, BRIDGE_ROLES_ALLOWED)) throw new ForbiddenError(`the bridge is for incident responders (${BRIDGE_ROLES_ALLOWED.join(', ')})`);
    const em = deps.orm.em.fork();
    const state = await deps.bridge.snapshot(em, await deps.bridge.loadVisible(em, req.params.id, principal));
    res.type('html').send(deps.views.render('bridge', { title: `Bridge ${state.incident.id}`, state, stateJson: JSON.stringify({ id: state.incident.id }), csrfToken: deps.csrf.token(req, res), me: principal.email, roles: BRIDGE_ROLES }));
  });
  return router;
}
