import { LockMode, OptimisticLockError } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors';
import type { EventBus } from '../../platform/event-bus';
import { SYSTEM_ACTOR, type Actor, type AuditService } from '../audit/audit-service';
import type { Principal } from '../auth/principal';
import { UserSchema } from '../users/user-entities';
import { AlertSchema } from '../alert-intake/intake-entities';
import { canSeeIncident, isClientContact, visibilityFilter } from './incident-access';
import { IncidentEventSchema, IncidentSchema, type Incident, type IncidentEvent } from './incident-entities';
import type { IncidentMetrics } from './incident-metrics';
import {
  OPEN_STATES,
  checkTransition,
  type Category,
  type IncidentState,
  isOpen,
  parseIncidentId,
  type Priority,
  priorityFor,
  type PublicStatus,
  publicStatusOf,
  type Severity,
  type Source,
  type Urgency,
  formatIncidentId,
} from './incident-rules';
import { addTimelineEvent, type TimelineEntry, type Visibility } from './incident-timeline';

/** Fields recorded in the audit trail before and after each change. */
export function auditSnapshot(incident: Incident) {
  return {
    state: incident.state,
    severity: incident.severity,
    urgency: incident.urgency,
    priority: incident.priority,
    category: incident.category,
    clientId: incident.clientId,
    serviceIds: incident.serviceIds,
    ciIds: incident.ciIds,
    assignedUserId: incident.assignedUserId,
    assignedTeam: incident.assignedTeam,
    acknowledgedAt: incident.acknowledgedAt?.toISOString() ?? null,
    resolutionSummary: incident.resolutionSummary,
    awaitingClient: incident.awaitingClient,
    security: incident.security,
    recurring: incident.recurring,
    pirRequired: incident.pirRequired,
    major: incident.major,
    conferenceUrl: incident.conferenceUrl,
  };
}

/**
 * Features that follow an incident's life (SLA clocks, escalation) register here. Each
 * hook runs inside the transaction of the change, so their rows and timers commit with it.
 */
export interface IncidentObserver {
  created?(em: EntityManager, incident: Incident, now: Date): Promise<void>;
  /** First acknowledgement or first assignment: someone has it (INC-07 response). */
  responded?(em: EntityManager, incident: Incident, now: Date): Promise<void>;
  stateChanged?(em: EntityManager, incident: Incident, from: IncidentState, to: IncidentState, now: Date): Promise<void>;
  awaitingClientChanged?(em: EntityManager, incident: Incident, waiting: boolean, now: Date): Promise<void>;
  severityChanged?(em: EntityManager, incident: Incident, from: number, now: Date): Promise<void>;
  /** New alerts named more CIs or services. */
  scopeChanged?(em: EntityManager, incident: Incident, now: Date): Promise<void>;
  /** Alerts held as expected during a change are still firing after its window: handle it as a normal incident. */
  releasedFromChange?(em: EntityManager, incident: Incident, now: Date): Promise<void>;
  /** A post-incident review became required (e.g. a change was confirmed as the cause). */
  reviewRequired?(em: EntityManager, incident: Incident, now: Date): Promise<void>;
  /** Staff posted words for the client (a public update or public note). */
  publicUpdatePosted?(em: EntityManager, incident: Incident, update: PublicUpdate, now: Date): Promise<void>;
}

export interface PublicUpdate {
  message: string;
  status: PublicStatus;
  /** The timeline entry that carries it. */
  eventId: string;
}

interface MutateOptions {
  expectedVersion?: number;
  requestId?: string;
  /** The audit action, e.g. incident.acknowledged. */
  action: string;
}
/** Changes the loaded incident inside the transaction and says what to put on the timeline. */
type IncidentChange = (incident: Incident, em: EntityManager, now: Date) => Promise<TimelineEntry[]> | TimelineEntry[];
/** Runs once the timeline entries have ids, still inside the transaction. */
type AfterTimeline = (incident: Incident, em: EntityManager, events: IncidentEvent[], now: Date) => Promise<void>;

export interface NewIncident {
  title: string;
  description?: string;
  clientId: string | null;
  serviceIds: string[];
  ciIds: string[];
  severity: Severity;
  urgency: Urgency;
  category: Category;
  source: Source;
  reportedBy?: string | null;
  impact?: string;
  reportedAt: Date;
  dedupKey?: string | null;
  /** The index key the alert processor finds the dedup key's incidents by (alert-claims.ts groupHashOf). */
  groupHash?: string | null;
  alertname?: string | null;
  truncatedAlerts?: number;
}

export interface IncidentListQuery {
  state?: IncidentState[];
  client?: string;
  service?: string;
  severity?: number[];
  priority?: string[];
  category?: string[];
  since?: Date;
  open?: boolean;
  /** Only the triage queue: incidents whose client is not known yet. */
  triage?: boolean;
  limit: number;
  offset: number;
}

export type IncidentService = ReturnType<typeof createIncidentService>;

export function createIncidentService(deps: {
  orm: MikroORM;
  clock: Clock;
  audit: AuditService;
  configStore: ConfigStore;
  bus: EventBus;
  metrics: IncidentMetrics;
}) {
  const { orm, clock, audit, configStore, bus } = deps;
  const observers: IncidentObserver[] = [];
  const notify = async <K extends keyof IncidentObserver>(hook: K, ...args: Parameters<NonNullable<IncidentObserver[K]>>) => {
    for (const observer of observers) await (observer[hook] as ((...a: unknown[]) => Promise<void>) | undefined)?.(...args);
  };

  /**
   * Creates an incident inside the caller's transaction: number, timeline entry, audit
   * row, recurring check (INC-12). The caller publishes after commit.
   */
  async function createInTransaction(em: EntityManager, input: NewIncident, actor: Actor, extraTimeline: TimelineEntry[] = []): Promise<Incident> {
    const now = clock.now();
    const [{ nextval }] = await em.getConnection().execute<{ nextval: string }[]>("select nextval('incident_number_seq')", [], 'all', em.getTransactionContext());
    const severity = input.severity;
    const incident = em.create(IncidentSchema, {
      number: Number(nextval),
      title: input.title.slice(0, 500),
      description: input.description ?? '',
      clientId: input.clientId,
      serviceIds: input.serviceIds,
      ciIds: input.ciIds,
      severity,
      urgency: input.urgency,
      priority: priorityFor(severity, input.urgency, configStore.current.priorityMatrix),
      priorityOverridden: false,
      category: input.category,
      state: 'new',
      source: input.source,
      reportedBy: input.reportedBy ?? null,
      impact: input.impact ?? '',
      dedupKey: input.dedupKey ?? null,
      groupHash: input.groupHash ?? null,
      alertname: input.alertname ?? null,
      reportedAt: input.reportedAt,
      createdAt: now,
      updatedAt: now,
      security: input.category === 'security',
      recurring: false,
      pirRequired: severity === 1,
      major: severity === 1,
      majorDeclaredAt: severity === 1 ? now : null,
      truncatedAlerts: input.truncatedAlerts ?? 0,
    });
    await em.flush();
    addTimelineEvent(em, incident, actor, {
      type: 'incident.created',
      message: `${formatIncidentId(incident.number)} logged from ${input.source}: Sev${severity} ${incident.priority}, ${input.category.replace(/_/g, ' ')}${input.clientId ? ` for ${input.clientId}` : ' (triage queue: client unknown)'}`,
      data: { source: input.source, reportedBy: input.reportedBy ?? null, severity, urgency: input.urgency, priority: incident.priority },
    }, now);
    for (const entry of extraTimeline) addTimelineEvent(em, incident, actor, entry, now);
    await flagIfRecurring(em, incident, actor, now);
    await notify('created', em, incident, now);
    audit.record(em, { actor, action: 'incident.created', entityType: 'incident', entityId: formatIncidentId(incident.number), clientId: incident.clientId, after: auditSnapshot(incident) });
    deps.metrics.created.inc({ client: incident.clientId ?? 'triage', severity: String(severity), category: incident.category });
    return incident;
  }

  /** The same client + service + alert (or CI) this many times within the window: recurring (INC-12). */
  async function flagIfRecurring(em: EntityManager, incident: Incident, actor: Actor, now: Date): Promise<void> {
    if (!incident.clientId) return;
    const policy = configStore.current.incidents.recurring;
    const since = new Date(now.getTime() - (parseDuration(policy.window) ?? 30 * 86_400_000));
    const sameAlert = incident.alertname ? { alertname: incident.alertname, ...(incident.serviceIds.length ? { serviceIds: { $overlap: incident.serviceIds } } : {}) } : null;
    const sameCi = incident.ciIds.length ? { ciIds: { $overlap: incident.ciIds } } : null;
    const matchers = [sameAlert, sameCi].filter(Boolean) as Record<string, unknown>[];
    if (matchers.length === 0) return;
    // False positives and security incidents are not "the same problem again".
    const count = await em.count(IncidentSchema, { clientId: incident.clientId, reportedAt: { $gte: since }, state: { $ne: 'cancelled' }, security: false, $or: matchers });
    if (count < policy.count) return;
    incident.recurring = true;
    incident.pirRequired = true;
    addTimelineEvent(em, incident, actor, {
      type: 'recurring.flagged',
      message: `recurring: ${count} incidents like this for ${incident.clientId} within ${policy.window}; a post-incident review is required`,
      data: { count, window: policy.window },
    }, now);
  }

  /**
   * Loads an incident the principal may see (any, for the system). `lock` takes the row lock
   * first, so every change of an incident locks in one order: incident, then its timers
   * and other rows (timer handlers do the same), and concurrent changes queue up.
   */
  async function loadVisible(em: EntityManager, idText: string, principal: Principal | null, lock = false): Promise<Incident> {
    const number = parseIncidentId(idText);
    const incident = number === undefined ? null : await em.findOne(IncidentSchema, { number }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
    if (!incident || (principal && !canSeeIncident(principal, configStore.current, incident))) throw new NotFoundError(`no incident ${idText}`);
    return incident;
  }

  /**
   * Runs one staff action: load (with visibility), check the expected version, change,
   * timeline + audit, commit, publish. A concurrent change makes the commit fail with 409.
   */
  async function mutate(
    idText: string,
    principal: Principal | null,
    actor: Actor,
    options: MutateOptions,
    change: IncidentChange,
    afterTimeline?: AfterTimeline,
  ): Promise<Incident> {
    const em = orm.em.fork();
    let eventIds: string[] = [];
    let incident: Incident;
    try {
      incident = await em.transactional(async (tx) => {
        // No principal: the system acting for someone without a login (an e-mailed link).
        const target = await loadVisible(tx, idText, principal, true);
        if (options.expectedVersion !== undefined && options.expectedVersion !== target.version) {
          throw new ConflictError(`the incident changed since you loaded it (version ${target.version}, you had ${options.expectedVersion}); reload and try again`, { current: target.version });
        }
        const before = auditSnapshot(target);
        const now = clock.now();
        const entries = await change(target, tx, now);
        target.updatedAt = now;
        const events = entries.map((entry) => addTimelineEvent(tx, target, actor, entry, now));
        audit.record(tx, { actor, action: options.action, entityType: 'incident', entityId: formatIncidentId(target.number), clientId: target.clientId, before, after: auditSnapshot(target), requestId: options.requestId });
        await tx.flush();
        eventIds = events.map((event) => event.id);
        if (afterTimeline) {
          await afterTimeline(target, tx, events, now);
          await tx.flush();
        }
        return target;
      });
    } catch (error) {
      if (error instanceof OptimisticLockError) throw new ConflictError('someone else changed the incident at the same moment; reload and try again');
      throw error;
    }
    bus.emit('incident.changed', { incidentId: incident.id, number: incident.number, clientId: incident.clientId ?? null, kind: 'updated', eventIds });
    return incident;
  }

  /** A Sev1 is a major incident (INC-11); then the observers hear of the change. */
  async function severityChanged(em: EntityManager, incident: Incident, from: number, now: Date): Promise<void> {
    if (incident.severity === 1 && !incident.major) {
      incident.major = true;
      incident.majorDeclaredAt = now;
    }
    await notify('severityChanged', em, incident, from, now);
  }

  /** Sets the state with its timestamps and tells the observers (in the caller's transaction). */
  async function changeState(em: EntityManager, incident: Incident, to: IncidentState, now: Date): Promise<void> {
    const from = incident.state as IncidentState;
    incident.state = to;
    if (to === 'mitigated') incident.mitigatedAt ??= now;
    if (to === 'resolved') incident.resolvedAt = now;
    if (to === 'closed') incident.closedAt = now;
    if (to === 'cancelled') incident.cancelledAt = now;
    if (from === 'resolved' && to === 'investigating') {
      // Re-opened: no longer resolved, and nobody has it until someone acknowledges again.
      incident.resolvedAt = null;
      incident.resolutionSummary = null;
      incident.acknowledgedAt = null;
      incident.acknowledgedBy = null;
    }
    await notify('stateChanged', em, incident, from, to, now);
  }

  return {
    createInTransaction,
    changeState,
    /** A staff action on an incident (visibility, version check, timeline, audit, publish); for other features' actions. */
    update: (idText: string, principal: Principal, actor: Actor, options: MutateOptions, change: IncidentChange) => mutate(idText, principal, actor, options, change),
    /** The same for an action the system takes on someone's behalf without a login (no visibility check). */
    updateBySystem: (idText: string, actor: Actor, options: MutateOptions, change: IncidentChange) => mutate(idText, null, actor, options, change),
    /** After a severity change made outside this service (e.g. by new alerts). */
    severityChanged,
    /** After new alerts widened the incident's CIs or services. */
    scopeChanged: (em: EntityManager, incident: Incident, now: Date) => notify('scopeChanged', em, incident, now),
    /** After an incident held during a change became a normal one. */
    releasedFromChange: (em: EntityManager, incident: Incident, now: Date) => notify('releasedFromChange', em, incident, now),
    /** After something made a review required (pirRequired set). */
    reviewRequired: (em: EntityManager, incident: Incident, now: Date) => notify('reviewRequired', em, incident, now),
    observe(observer: IncidentObserver): void {
      observers.push(observer);
    },

    async createManual(input: NewIncident, actor: Actor): Promise<Incident> {
      const incident = await orm.em.fork().transactional(async (em) => {
        const created = await createInTransaction(em, input, actor);
        await em.flush();
        return created;
      });
      bus.emit('incident.changed', { incidentId: incident.id, number: incident.number, clientId: incident.clientId ?? null, kind: 'created', eventIds: [] });
      return incident;
    },

    async get(idText: string, principal: Principal) {
      const em = orm.em.fork();
      const incident = await loadVisible(em, idText, principal);
      const [events, alerts] = await Promise.all([
        em.find(IncidentEventSchema, { incident }, { orderBy: { id: 'asc' } }),
        isClientContact(principal) ? Promise.resolve([]) : em.find(AlertSchema, { incident }, { orderBy: { id: 'asc' }, limit: 500 }),
      ]);
      const alertCounts = isClientContact(principal)
        ? null
        : await em.getConnection().execute<{ status: string; count: string }[]>('select status, count(*) from alert where incident_id = ? group by status', [incident.id]);
      return { incident, events: events as IncidentEvent[], alerts, alertCounts };
    },

    async list(query: IncidentListQuery, principal: Principal) {
      // Incidents nobody has routed yet may belong to any client: sorting them out is staff work.
      if (query.triage && isClientContact(principal)) throw new ForbiddenError('the triage queue is for staff only');
      const em = orm.em.fork();
      // Each filter is its own condition, ANDed with what the caller may see: a filter can
      // narrow the visible set but never replace a part of it (a triage or client filter
      // once overwrote a client contact's own client).
      const filters: Record<string, unknown>[] = [visibilityFilter(principal, configStore.current)];
      if (query.state?.length) filters.push({ state: { $in: query.state } });
      else if (query.open !== undefined) filters.push({ state: query.open ? { $in: [...OPEN_STATES] } : { $nin: [...OPEN_STATES] } });
      if (query.triage) filters.push({ clientId: null });
      if (query.client) filters.push({ clientId: query.client });
      if (query.service) filters.push({ serviceIds: { $contains: [query.service] } });
      if (query.severity?.length) filters.push({ severity: { $in: query.severity } });
      if (query.priority?.length) filters.push({ priority: { $in: query.priority } });
      if (query.category?.length) filters.push({ category: { $in: query.category } });
      if (query.since) filters.push({ reportedAt: { $gte: query.since } });
      const [items, total] = await em.findAndCount(IncidentSchema, { $and: filters }, { orderBy: { reportedAt: 'desc', id: 'desc' }, limit: query.limit, offset: query.offset });
      return { items, total };
    },

    acknowledge(idText: string, principal: Principal, actor: Actor, options: { expectedVersion?: number; requestId?: string } = {}) {
      return mutate(idText, principal, actor, { ...options, action: 'incident.acknowledged' }, async (incident, em, now) => {
        if (incident.acknowledgedAt) throw new ConflictError(`already acknowledged by ${incident.acknowledgedBy} at ${incident.acknowledgedAt.toISOString()}`);
        if (!isOpen(incident.state as IncidentState)) throw new ConflictError(`cannot acknowledge a ${incident.state} incident`);
        incident.acknowledgedAt = now;
        incident.acknowledgedBy = actor.name;
        const entries: TimelineEntry[] = [{ type: 'acknowledged', message: `acknowledged by ${actor.name}` }];
        // Someone has taken it: work has started.
        if (incident.state === 'new' || incident.state === 'triaged') {
          entries.push({ type: 'state.changed', message: `${incident.state} -> investigating`, data: { from: incident.state, to: 'investigating' } });
          await changeState(em, incident, 'investigating', now);
        }
        await notify('responded', em, incident, now);
        return entries;
      });
    },

    assign(idText: string, principal: Principal, actor: Actor, input: { user?: string; team?: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: 'incident.assigned' }, async (incident, em, now) => {
        const parts: string[] = [];
        if (input.team !== undefined) {
          if (!configStore.current.teams.some((team) => team.id === input.team)) throw new ValidationError('unknown team', [{ path: 'team', message: `no team "${input.team}" in the configuration` }]);
          incident.assignedTeam = input.team;
          parts.push(`team ${input.team}`);
        }
        if (input.user !== undefined) {
          const user = /^\d+$/.test(input.user)
            ? await em.findOne(UserSchema, { id: Number(input.user) })
            : await em.findOne(UserSchema, { email: input.user.toLowerCase() });
          if (!user || user.disabledAt) throw new ValidationError('unknown user', [{ path: 'user', message: `no active user "${input.user}"` }]);
          incident.assignedUserId = user.id;
          parts.push(`${user.name} <${user.email}>`);
        }
        const firstAssignment = !incident.firstAssignedAt;
        incident.firstAssignedAt ??= now;
        if (firstAssignment) await notify('responded', em, incident, now);
        return [{ type: 'assigned', message: `assigned to ${parts.join(' and ')}`, data: { team: incident.assignedTeam, userId: incident.assignedUserId } }];
      });
    },

    transition(idText: string, principal: Principal, actor: Actor, input: { to: IncidentState; reason?: string; resolutionSummary?: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: `incident.${input.to}` }, async (incident, em, now) => {
        const from = incident.state as IncidentState;
        const check = checkTransition(from, input.to, { reason: input.reason, resolutionSummary: input.resolutionSummary, hasClient: incident.clientId !== null });
        if (!check.ok) throw new ConflictError(check.reason, { from, to: input.to });
        await changeState(em, incident, input.to, now);
        if (input.to === 'resolved') incident.resolutionSummary = input.resolutionSummary!.trim();
        const detail = input.resolutionSummary ?? input.reason;
        return [{ type: 'state.changed', message: `${from} -> ${input.to}${detail ? `: ${detail}` : ''}`, data: { from, to: input.to, reason: input.reason ?? null, resolutionSummary: input.resolutionSummary ?? null } }];
      });
    },

    addNote(idText: string, principal: Principal, actor: Actor, input: { text: string; visibility: Visibility; expectedVersion?: number; requestId?: string }) {
      return mutate(
        idText,
        principal,
        actor,
        { ...input, action: 'incident.note_added' },
        () => [{ type: 'note', message: input.text, visibility: input.visibility }],
        // A public note is words for the client, like a public update.
        async (incident, em, [event], now) => {
          if (input.visibility === 'public') await notify('publicUpdatePosted', em, incident, { message: input.text, status: publicStatusOf(incident.state as IncidentState), eventId: event!.id }, now);
        },
      );
    },

    /** A public update (INC-09): shown on the status page, e-mailed to the client for Sev1/Sev2. */
    postUpdate(idText: string, principal: Principal, actor: Actor, input: { message: string; status?: PublicStatus; expectedVersion?: number; requestId?: string }) {
      let status: PublicStatus;
      return mutate(
        idText,
        principal,
        actor,
        { ...input, action: 'incident.public_update' },
        (incident) => {
          if (incident.state === 'cancelled') throw new ConflictError('a cancelled incident gets no public updates');
          if (incident.security) throw new ConflictError('security incidents are communicated by the security team, not by public updates (INC-14)');
          status = input.status ?? publicStatusOf(incident.state as IncidentState);
          return [{ type: 'public.update', message: input.message, visibility: 'public', data: { status } }];
        },
        (incident, em, [event], now) => notify('publicUpdatePosted', em, incident, { message: input.message, status, eventId: event!.id }, now),
      );
    },

    setSeverity(idText: string, principal: Principal, actor: Actor, input: { severity: Severity; reason: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: 'incident.severity_changed' }, async (incident, em, now) => {
        const from = incident.severity;
        if (from === input.severity) throw new ConflictError(`severity is already ${from}`);
        incident.severity = input.severity;
        if (input.severity === 1) incident.pirRequired = true;
        await severityChanged(em, incident, from, now);
        const entries: TimelineEntry[] = [{ type: 'severity.changed', message: `severity ${from} -> ${input.severity}: ${input.reason}`, data: { from, to: input.severity, reason: input.reason } }];
        if (!incident.priorityOverridden) entries.push(...recomputePriority(incident));
        return entries;
      });
    },

    setUrgency(idText: string, principal: Principal, actor: Actor, input: { urgency: Urgency; reason: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: 'incident.urgency_changed' }, (incident) => {
        const from = incident.urgency;
        incident.urgency = input.urgency;
        const entries: TimelineEntry[] = [{ type: 'urgency.changed', message: `urgency ${from} -> ${input.urgency}: ${input.reason}`, data: { from, to: input.urgency } }];
        if (!incident.priorityOverridden) entries.push(...recomputePriority(incident));
        return entries;
      });
    },

    setPriority(idText: string, principal: Principal, actor: Actor, input: { priority: Priority; reason: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: 'incident.priority_overridden' }, (incident) => {
        const from = incident.priority;
        incident.priority = input.priority;
        incident.priorityOverridden = true;
        return [{ type: 'priority.changed', message: `priority ${from} -> ${input.priority} (override): ${input.reason}`, data: { from, to: input.priority, override: true, reason: input.reason } }];
      });
    },

    setCategory(idText: string, principal: Principal, actor: Actor, input: { category: Category; reason?: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: 'incident.category_changed' }, (incident) => {
        const from = incident.category;
        incident.category = input.category;
        return [{ type: 'category.changed', message: `category ${from} -> ${input.category}${input.reason ? `: ${input.reason}` : ''}`, data: { from, to: input.category } }];
      });
    },

    /**
     * INC-05 closure: resolved incidents whose validation window has passed are closed,
     * a few at a time, by whichever daemon gets them first (SKIP LOCKED).
     */
    async closeExpiredValidations(): Promise<number> {
      const window = configStore.current.incidents.validationWindow;
      const cutoff = new Date(clock.now().getTime() - (parseDuration(window) ?? 3 * 86_400_000));
      const closed = await orm.em.fork().transactional(async (em) => {
        const due = await em.find(IncidentSchema, { state: 'resolved', resolvedAt: { $lt: cutoff } }, { limit: 100, orderBy: { resolvedAt: 'asc' }, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE });
        const now = clock.now();
        for (const incident of due) {
          const before = auditSnapshot(incident);
          await changeState(em, incident, 'closed', now);
          incident.updatedAt = now;
          addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'state.changed', message: `resolved -> closed: validation window of ${window} passed without objection`, data: { from: 'resolved', to: 'closed', reason: 'validation window expired' } }, now);
          audit.record(em, { actor: SYSTEM_ACTOR, action: 'incident.closed', entityType: 'incident', entityId: formatIncidentId(incident.number), clientId: incident.clientId, before, after: auditSnapshot(incident) });
        }
        await em.flush();
        return due;
      });
      for (const incident of closed) bus.emit('incident.changed', { incidentId: incident.id, number: incident.number, clientId: incident.clientId ?? null, kind: 'updated', eventIds: [] });
      return closed.length;
    },

    /** The `awaiting_client` sub-state: SLA clocks pause while the incident waits on the client (INC-07). */
    setAwaitingClient(idText: string, principal: Principal, actor: Actor, input: { waiting: boolean; reason: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: input.waiting ? 'incident.awaiting_client' : 'incident.client_responded' }, async (incident, em, now) => {
        if (!isOpen(incident.state as IncidentState)) throw new ConflictError(`a ${incident.state} incident does not wait on anyone`);
        if (incident.awaitingClient === input.waiting) throw new ConflictError(input.waiting ? 'already waiting on the client' : 'not waiting on the client');
        incident.awaitingClient = input.waiting;
        await notify('awaitingClientChanged', em, incident, input.waiting, now);
        return [{ type: 'awaiting_client', message: `${input.waiting ? 'waiting on the client (SLA clocks paused)' : 'client responded (SLA clocks running)'}: ${input.reason}`, data: { waiting: input.waiting } }];
      });
    },

    /** INC-14: hand the incident to security; from now on only admins and the security team see it. */
    flagSecurity(idText: string, principal: Principal, actor: Actor, input: { reason: string; expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, { ...input, action: 'incident.security_flagged' }, (incident) => {
        if (incident.security) throw new ConflictError('already a security incident');
        incident.security = true;
        return [{ type: 'security.flagged', message: `escalated to a security incident: ${input.reason}; visible to the ${configStore.current.incidents.securityTeam} team and admins only`, data: { reason: input.reason } }];
      });
    },
  };

  function recomputePriority(incident: Incident): TimelineEntry[] {
    const priority = priorityFor(incident.severity as Severity, incident.urgency as Urgency, configStore.current.priorityMatrix);
    if (priority === incident.priority) return [];
    const from = incident.priority;
    incident.priority = priority;
    return [{ type: 'priority.changed', message: `priority ${from} -> ${priority} (severity x urgency)`, data: { from, to: priority } }];
  }
}
