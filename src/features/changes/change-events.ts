import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { IncidentdConfig, IntegrationConfig } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { UnauthenticatedError, ValidationError } from '../../platform/errors';
import { implausibleInstants } from '../../platform/plausible-time';
import type { ApiRouter } from '../../platform/http/api-router';
import { refuseInvalidUtf8, safeParseInput } from '../../platform/http/request-input';
import { presentedToken } from '../alert-intake/intake-routes';
import type { Actor, AuditService } from '../audit/audit-service';
import { STAFF_ROLES } from '../auth/roles';
import { catalogIndex } from '../catalog/catalog-index';
import type { Outbox } from '../notifications/outbox';
import { secretsEqual } from '../users/credentials';
import { ChangeEventSchema, ChangeRequestSchema, type ChangeEvent, type ChangeRequest } from './change-entities';
import { usersWithRole } from '../users/users-with-role';
import { formatChangeId, parseChangeId } from './change-rules';

/** A deploy may implement a change in these states; before approval or after completion it may not. */
const AUTHORIZING_STATES = ['approved', 'scheduled', 'in_progress', 'validating'];

export const changeEventBody = z.object({
  id: z.string().trim().min(1).max(200).describe("the sender's own id for the event (e.g. the pipeline run); a retried POST with the same id answers 200 with the stored event and never stores it twice"),
  summary: z.string().trim().min(1).max(500).describe('what was deployed, e.g. "shop-web 4.12.0"'),
  source: z.string().trim().min(1).max(200).describe('the pipeline or tool, e.g. github-actions:shop/deploy'),
  client: z.string().optional().describe('client id; taken from the CI or service when omitted'),
  service: z.string().optional().describe('service id deployed to (ci or service is required)'),
  ci: z.string().optional().describe('configuration item id deployed to (ci or service is required)'),
  time: z.iso.datetime({ offset: true }).describe('when the deploy happened, ISO 8601 with offset'),
  links: z.array(z.url()).max(20).default([]).describe('pipeline run, commit, release notes'),
  rfc: z.string().optional().describe('the approved change this deploy implements, e.g. CHG-2031'),
});
export type ChangeEventInput = z.infer<typeof changeEventBody>;

type Problem = { path: string; message: string };
const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** Every problem at once: the shape (zod) and the references to the catalog. */
function parseEvent(raw: unknown, config: IncidentdConfig, now: Date): ChangeEventInput {
  const parsed = safeParseInput(changeEventBody, raw ?? {});
  const fields = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const index = catalogIndex(config);
  const problems: Problem[] = parsed.success ? [] : parsed.problems;
  const [client, service, ci] = [text(fields.client), text(fields.service), text(fields.ci)];
  if (!service && !ci) problems.push({ path: 'ci', message: 'name the configuration item (ci) or the service deployed to' });
  if (client !== undefined && !index.clients.has(client)) problems.push({ path: 'client', message: `unknown client "${client}"` });
  if (service !== undefined && !index.services.has(service)) problems.push({ path: 'service', message: `unknown service "${service}"` });
  if (ci !== undefined && !index.cis.has(ci)) problems.push({ path: 'ci', message: `unknown configuration item "${ci}"` });
  const owners = new Set([index.services.get(service ?? '')?.client, index.cis.get(ci ?? '')?.client, client].filter(Boolean));
  if (owners.size > 1) problems.push({ path: 'client', message: `client, service and ci belong to different clients (${[...owners].join(', ')})` });
  const rfc = text(fields.rfc);
  if (rfc !== undefined && parseChangeId(rfc) === undefined) problems.push({ path: 'rfc', message: `"${rfc}" is not a change id like CHG-2031` });
  if (parsed.success) problems.push(...implausibleInstants(now, 'happened', { time: parsed.data.time }));
  if (problems.length || !parsed.success) throw new ValidationError('invalid change event', problems);
  return parsed.data;
}

/** The CIs a deploy touched: the named CI, or every CI of the named service. */
function touchedCis(event: ChangeEventInput, config: IncidentdConfig): string[] {
  if (event.ci) return [event.ci];
  return catalogIndex(config).services.get(event.service!)?.cis ?? [];
}

/** Why the named change does not authorize this deploy, or null when it does. */
function authorizationProblem(change: ChangeRequest | null, event: ChangeEventInput, ciIds: string[], config: IncidentdConfig): string | null {
  if (!change) return event.rfc ? `names ${event.rfc}, which does not exist` : 'names no approved change (rfc)';
  const id = formatChangeId(change.number);
  if (!AUTHORIZING_STATES.includes(change.state)) return `names ${id}, which is ${change.state}, not approved`;
  const index = catalogIndex(config);
  const covered = new Set([...change.ciIds, ...change.serviceIds.flatMap((service) => index.services.get(service)?.cis ?? [])]);
  if (!(event.service && change.serviceIds.includes(event.service)) && !ciIds.some((ci) => covered.has(ci))) return `names ${id}, which does not cover ${event.ci ?? event.service}`;
  const at = new Date(event.time);
  if (change.windowStart && change.windowEnd && (at < change.windowStart || at > change.windowEnd)) {
    return `deployed at ${at.toISOString()}, outside the approved window of ${id} (${change.windowStart.toISOString()} - ${change.windowEnd.toISOString()})`;
  }
  return null;
}

export function presentChangeEvent(event: ChangeEvent) {
  const change = event.change as unknown as ChangeRequest | null;
  return {
    id: event.id,
    eventId: event.externalId,
    integration: event.integration,
    summary: event.summary,
    source: event.source,
    client: event.clientId,
    service: event.serviceId,
    ci: event.ciId,
    time: event.occurredAt.toISOString(),
    receivedAt: event.receivedAt.toISOString(),
    links: event.links ?? [],
    change: change ? formatChangeId(change.number) : null,
    unauthorized: event.unauthorized,
    unauthorizedReason: event.unauthorizedReason,
  };
}

export type ChangeEvents = ReturnType<typeof createChangeEvents>;

/**
 * Deploy events from CI/CD (REL-04): each is recorded and attached to the change it
 * implements. A deploy to a CI whose environment needs an RFC (changeApproval.rfcRequiredFor)
 * that names no change authorizing it is an unauthorized change (REL-02): recorded,
 * audited, counted and reported to the change managers.
 */
export function createChangeEvents(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; audit: AuditService; outbox: Outbox }) {
  const { orm, clock, configStore, audit, outbox } = deps;

  async function reportUnauthorized(em: EntityManager, event: ChangeEvent, config: IncidentdConfig): Promise<void> {
    await outbox.enqueue(em, {
      kind: 'change.unauthorized',
      incidentId: null,
      recipients: await usersWithRole(em, 'change_manager'),
      subject: `Unauthorized change on ${event.ciId ?? event.serviceId} (${event.clientId}): ${event.summary}`,
      body: [
        `A deploy was reported without an approved change: it ${event.unauthorizedReason}.`,
        '',
        `What: ${event.summary}`,
        `Where: ${event.ciId ? `CI ${event.ciId}` : `service ${event.serviceId}`} of ${event.clientId}`,
        `When: ${event.occurredAt.toISOString()}`,
        `Reported by: ${event.source} (integration ${event.integration}, event ${event.externalId})`,
        ...(event.links ?? []).map((link) => `Link: ${link}`),
        '',
        `Review it and raise a retrospective change: ${config.server.publicUrl}/api/v1/change-events?unauthorized=true`,
      ].join('\n'),
      eventKey: `change-event:${event.integration}:${event.externalId}:unauthorized`,
    });
  }

  async function store(integration: IntegrationConfig, input: ChangeEventInput): Promise<ChangeEvent> {
    return orm.em.fork().transactional(async (em) => {
      const config = configStore.current;
      const index = catalogIndex(config);
      const ciIds = touchedCis(input, config);
      const clientId = input.client ?? index.cis.get(input.ci ?? '')?.client ?? index.services.get(input.service ?? '')?.client ?? null;
      const environments = config.changeApproval.rfcRequiredFor.environments as string[];
      const rfcRequired = ciIds.some((ci) => environments.includes(index.cis.get(ci)?.environment ?? ''));
      const number = input.rfc ? parseChangeId(input.rfc) : undefined;
      const change = number === undefined ? null : await em.findOne(ChangeRequestSchema, { number });
      const problem = authorizationProblem(change, input, ciIds, config);
      const unauthorized = rfcRequired && problem !== null;
      const event = em.create(ChangeEventSchema, {
        integration: integration.name,
        externalId: input.id,
        receivedAt: clock.now(),
        occurredAt: new Date(input.time),
        summary: input.summary,
        source: input.source,
        clientId,
        serviceId: input.service ?? null,
        ciId: input.ci ?? null,
        links: input.links,
        change,
        unauthorized,
        unauthorizedReason: unauthorized ? problem : null,
      });
      await em.flush();
      const actor: Actor = { type: 'integration', id: null, name: integration.name };
      const after = presentChangeEvent(event);
      if (change) audit.record(em, { actor, action: 'change.deploy_event', entityType: 'change', entityId: formatChangeId(change.number), clientId, after: { ...after, note: `deploy: ${input.summary}${problem ? ` (${problem})` : ''}` } });
      else audit.record(em, { actor, action: unauthorized ? 'change_event.unauthorized' : 'change_event.recorded', entityType: 'change_event', entityId: event.id, clientId, after });
      if (unauthorized) await reportUnauthorized(em, event, config);
      return event;
    });
  }

  /** Records an event once per (integration, event id); a retry gets the stored one back. */
  async function record(integration: IntegrationConfig, input: ChangeEventInput): Promise<{ event: ChangeEvent; created: boolean }> {
    const stored = () => orm.em.fork().findOneOrFail(ChangeEventSchema, { integration: integration.name, externalId: input.id }, { populate: ['change'] });
    if (await orm.em.fork().count(ChangeEventSchema, { integration: integration.name, externalId: input.id })) return { event: await stored(), created: false };
    try {
      await store(integration, input);
      return { event: await stored(), created: true };
    } catch (error) {
      // Two deliveries of the same event at the same moment: the other one stored it.
      if (error instanceof UniqueConstraintViolationException) return { event: await stored(), created: false };
      throw error;
    }
  }

  /** Authenticated like the alert webhooks: a `change_events` integration's token, before reading the body. */
  function authenticate(req: Request): IntegrationConfig {
    const token = presentedToken(req);
    const integration = token ? configStore.current.integrations.find((candidate) => candidate.type === 'change_events' && secretsEqual(candidate.token, token)) : undefined;
    if (!integration) throw new UnauthenticatedError('missing or invalid token for a change_events integration (send it as Bearer token or Basic auth password)');
    return integration;
  }

  const router = express.Router();
  router.post(
    '/api/v1/change-events',
    (req, _res, next) => {
      req.integration = authenticate(req);
      next();
    },
    express.json({ limit: '100kb', type: () => true, verify: refuseInvalidUtf8 }),
    async (req: Request, res: Response) => {
      const { event, created } = await record(req.integration!, parseEvent(req.body, configStore.current, clock.now()));
      res.status(created ? 201 : 200).json(presentChangeEvent(event));
    },
  );

  return { router, record };
}

const eventListQuery = z.object({
  unauthorized: z.enum(['true', 'false']).transform((value) => value === 'true').optional().describe('true: only unauthorized changes (REL-02)'),
  client: z.string().optional(),
  ci: z.string().optional(),
  change: z.string().optional().describe('events attached to this change, e.g. CHG-2031'),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});

/** The list of deploy events and unauthorized changes, and the webhook's entry in the OpenAPI document. */
export function registerChangeEventRoutes(api: ApiRouter): void {
  api.document({ method: 'post', path: '/change-events', summary: 'Deploy event from CI/CD (REL-04): attached to the approved change it names; without one, on a CI whose environment requires an RFC, recorded as an unauthorized change and reported (REL-02). 201 when stored, 200 for a retry of the same id, 400 listing every problem', access: { integration: 'change_events' }, body: changeEventBody });
  api.get('/change-events', { access: { roles: STAFF_ROLES }, summary: 'Deploy events, newest first; unauthorized=true lists the unauthorized changes (REL-02)', query: eventListQuery }, async ({ query, em }) => {
    const where: Record<string, unknown> = {};
    if (query.unauthorized !== undefined) where.unauthorized = query.unauthorized;
    if (query.client) where.clientId = query.client;
    if (query.ci) where.ciId = query.ci;
    if (query.change) where.change = { number: parseChangeId(query.change) ?? -1 };
    if (query.from || query.to) where.occurredAt = { ...(query.from ? { $gte: query.from } : {}), ...(query.to ? { $lt: query.to } : {}) };
    const [items, total] = await em.findAndCount(ChangeEventSchema, where, { populate: ['change'], orderBy: { occurredAt: 'desc', id: 'desc' }, limit: query.pageSize, offset: (query.page - 1) * query.pageSize });
    return { items: items.map(presentChangeEvent), page: query.page, pageSize: query.pageSize, total };
  });
}
