import { z } from 'zod';
import { ValidationError } from '../../platform/errors';
import { implausibleInstants } from '../../platform/plausible-time';
import type { ApiRouter } from '../../platform/http/api-router';
import type { Role } from '../auth/roles';
import { STAFF_ROLES } from '../auth/roles';
import { isClientContact } from './incident-access';
import { presentAlert, presentEvent, presentIncident, presentIncidentForClient } from './incident-presenter';
import type { ConfigStore } from '../../config/config-store';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../platform/clock';
import type { Incident } from './incident-entities';
import { catalogIndex } from '../catalog/catalog-index';
import { CATEGORIES, INCIDENT_STATES, PRIORITIES, PUBLIC_STATUSES, SOURCES, URGENCIES } from './incident-rules';
import type { IncidentService } from './incident-service';

/** Who works incidents (INC-06): the service desk, the technical tiers, incident managers. */
const RESPONDERS: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager'];
const LOGGERS: readonly Role[] = [...RESPONDERS, 'account_manager'];
const READERS: readonly Role[] = [...STAFF_ROLES, 'client_contact'];

/** `?state=new,triaged` -> ['new', 'triaged'], each checked against the allowed values. */
const list = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((text) => text.split(',').map((part) => part.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)));

const listQuery = z.object({
  state: list(INCIDENT_STATES).optional(),
  open: z.enum(['true', 'false']).transform((value) => value === 'true').optional(),
  triage: z.enum(['true', 'false']).transform((value) => value === 'true').optional().describe('true: only the triage queue (client not known yet; staff only, 403 for client contacts)'),
  client: z.string().optional(),
  service: z.string().optional(),
  severity: z
    .string()
    .transform((text) => text.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(4)))
    .optional(),
  priority: list(PRIORITIES).optional(),
  category: list(CATEGORIES).optional(),
  since: z.coerce.date().optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});

const severity = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]);
const expectedVersion = z.number().int().optional().describe('the version you last saw; a stale write is refused with 409');

const createBody = z.object({
  title: z.string().trim().min(3).max(500),
  description: z.string().max(20_000).default(''),
  client: z.string().nullable().describe('client id; null puts it in the triage queue'),
  services: z.array(z.string()).default([]),
  cis: z.array(z.string()).default([]),
  severity,
  urgency: z.enum(URGENCIES).optional(),
  category: z.enum(CATEGORIES).default('other'),
  source: z.enum(SOURCES).describe('how it was reported: phone, email, portal (client-reported), staff or monitoring'),
  reportedBy: z.string().max(200).optional().describe('who reported it (name, email or phone)'),
  impact: z.string().max(5000).default('').describe('initial impact assessment'),
  reportedAt: z.iso.datetime({ offset: true }).optional().describe('when it was reported, if not now'),
});

function serviceNames(configStore: ConfigStore) {
  const index = catalogIndex(configStore.current);
  return (id: string) => index.services.get(id)?.name;
}

/** Other features add their part of the incident detail (SLA clocks, escalation). */
export type IncidentDetailExtension = (em: EntityManager, incident: Incident) => Promise<Record<string, unknown>>;

export function registerIncidentRoutes(api: ApiRouter, incidents: IncidentService, configStore: ConfigStore, clock: Clock, extensions: IncidentDetailExtension[] = []) {
  api.get('/incidents', { access: { roles: READERS }, summary: 'List incidents, newest first (filters: state, open, triage, client, service, severity, priority, category, since; paginated)', query: listQuery }, async ({ principal, query }) => {
    const { items, total } = await incidents.list({ ...query, limit: query.pageSize, offset: (query.page - 1) * query.pageSize }, principal);
    const client = isClientContact(principal);
    const names = serviceNames(configStore);
    return { items: items.map((incident) => (client ? presentIncidentForClient(incident, [], names) : presentIncident(incident))), page: query.page, pageSize: query.pageSize, total };
  });

  api.get('/incidents/:id', { access: { roles: READERS }, summary: 'One incident with alerts, timeline, SLA clocks and escalation' }, async ({ principal, params, em }) => {
    const { incident, events, alerts, alertCounts } = await incidents.get(params.id!, principal);
    if (isClientContact(principal)) return presentIncidentForClient(incident, events, serviceNames(configStore));
    const counts = Object.fromEntries((alertCounts ?? []).map((row) => [row.status, Number(row.count)]));
    const extra = Object.assign({}, ...(await Promise.all(extensions.map((extension) => extension(em, incident)))));
    return { ...presentIncident(incident), alertCounts: { firing: counts.firing ?? 0, resolved: counts.resolved ?? 0 }, ...extra, alerts: alerts.map(presentAlert), timeline: events.map(presentEvent) };
  });

  api.post(
    '/incidents/:id/awaiting-client',
    { access: { roles: RESPONDERS }, summary: 'Start or end waiting on the client (the awaiting_client sub-state pauses SLA clocks)', body: z.object({ waiting: z.boolean(), reason: z.string().trim().min(3).max(2000), expectedVersion }) },
    async ({ principal, actor, params, body, requestId }) => presentIncident(await incidents.setAwaitingClient(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/incidents', { access: { roles: LOGGERS }, summary: 'Log an incident by hand (client-reported by phone, email or portal, or found by staff) (INC-01, INC-02)', body: createBody }, async ({ body, actor, res }) => {
    const config = configStore.current;
    const known = catalogIndex(config);
    const problems: { path: string; message: string }[] = [];
    if (body.client !== null && !known.clients.has(body.client)) problems.push({ path: 'client', message: `unknown client "${body.client}"` });
    body.services.forEach((id, i) => known.services.get(id)?.client !== body.client && problems.push({ path: `services.${i}`, message: `no service "${id}" of this client` }));
    body.cis.forEach((id, i) => known.cis.get(id)?.client !== body.client && problems.push({ path: `cis.${i}`, message: `no configuration item "${id}" of this client` }));
    problems.push(...implausibleInstants(clock.now(), 'happened', { reportedAt: body.reportedAt }));
    if (problems.length) throw new ValidationError('invalid incident', problems);
    const incident = await incidents.createManual(
      {
        title: body.title,
        description: body.description,
        clientId: body.client,
        serviceIds: body.services,
        ciIds: body.cis,
        severity: body.severity,
        urgency: body.urgency ?? config.routing.urgencyBySeverity[`sev${body.severity}`],
        category: body.category,
        source: body.source,
        reportedBy: body.reportedBy ?? null,
        impact: body.impact,
        reportedAt: body.reportedAt ? new Date(body.reportedAt) : clock.now(),
      },
      actor,
    );
    res.status(201).setHeader('Location', `/api/v1/incidents/INC-${incident.number}`);
    return presentIncident(incident);
  });

  api.post('/incidents/:id/acknowledge', { access: { roles: RESPONDERS }, summary: 'Acknowledge: someone has it (starts investigating)', body: z.object({ expectedVersion }) }, async ({ principal, actor, params, body, requestId }) =>
    presentIncident(await incidents.acknowledge(params.id!, principal, actor, { expectedVersion: body.expectedVersion, requestId })),
  );

  api.post(
    '/incidents/:id/assign',
    {
      access: { roles: RESPONDERS },
      summary: 'Assign to a user (id or email) and/or a team',
      body: z.object({ user: z.string().optional(), team: z.string().optional(), expectedVersion }).refine((b) => b.user || b.team, { error: 'give a user or a team', path: ['user'] }),
    },
    async ({ principal, actor, params, body, requestId }) => presentIncident(await incidents.assign(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post(
    '/incidents/:id/transition',
    {
      access: { roles: RESPONDERS },
      summary: 'Move through the lifecycle (INC-05); resolving needs a resolution summary, cancelling and re-opening a reason',
      body: z.object({ to: z.enum(INCIDENT_STATES), reason: z.string().max(5000).optional(), resolutionSummary: z.string().max(20_000).optional(), expectedVersion }),
    },
    async ({ principal, actor, params, body, requestId }) => presentIncident(await incidents.transition(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post(
    '/incidents/:id/notes',
    { access: { roles: [...RESPONDERS, 'account_manager'] }, summary: 'Add a note: internal (staff only) or public (client-facing)', body: z.object({ text: z.string().trim().min(1).max(20_000), visibility: z.enum(['internal', 'public']).default('internal'), expectedVersion }) },
    async ({ principal, actor, params, body, requestId, res }) => {
      res.status(201);
      return presentIncident(await incidents.addNote(params.id!, principal, actor, { ...body, requestId }));
    },
  );

  api.post(
    '/incidents/:id/updates',
    {
      access: { roles: [...RESPONDERS, 'account_manager'] },
      summary: 'Post a public update (INC-09): on the status page, and e-mailed to the client for communicated severities (default Sev1/Sev2); resets the update cadence',
      body: z.object({ message: z.string().trim().min(3).max(10_000), status: z.enum(PUBLIC_STATUSES).optional().describe('default: from the incident state'), expectedVersion }),
    },
    async ({ principal, actor, params, body, requestId, res }) => {
      res.status(201);
      return presentIncident(await incidents.postUpdate(params.id!, principal, actor, { ...body, requestId }));
    },
  );

  api.post('/incidents/:id/severity', { access: { roles: RESPONDERS }, summary: 'Change severity with a reason (audited)', body: z.object({ severity, reason: z.string().trim().min(3).max(2000), expectedVersion }) }, async ({ principal, actor, params, body, requestId }) =>
    presentIncident(await incidents.setSeverity(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/incidents/:id/urgency', { access: { roles: RESPONDERS }, summary: 'Change urgency with a reason (audited)', body: z.object({ urgency: z.enum(URGENCIES), reason: z.string().trim().min(3).max(2000), expectedVersion }) }, async ({ principal, actor, params, body, requestId }) =>
    presentIncident(await incidents.setUrgency(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/incidents/:id/priority', { access: { roles: RESPONDERS }, summary: 'Override the priority with a reason (audited); new alerts no longer recompute it', body: z.object({ priority: z.enum(PRIORITIES), reason: z.string().trim().min(3).max(2000), expectedVersion }) }, async ({ principal, actor, params, body, requestId }) =>
    presentIncident(await incidents.setPriority(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/incidents/:id/category', { access: { roles: RESPONDERS }, summary: 'Change the category (INC-03)', body: z.object({ category: z.enum(CATEGORIES), reason: z.string().max(2000).optional(), expectedVersion }) }, async ({ principal, actor, params, body, requestId }) =>
    presentIncident(await incidents.setCategory(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/incidents/:id/security', { access: { roles: RESPONDERS }, summary: 'Escalate to a security incident: visibility narrows to the security team and admins (INC-14)', body: z.object({ reason: z.string().trim().min(3).max(2000), expectedVersion }) }, async ({ principal, actor, params, body, requestId }) =>
    presentIncident(await incidents.flagSecurity(params.id!, principal, actor, { ...body, requestId })),
  );
}
