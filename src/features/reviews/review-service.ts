import { OptimisticLockError } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { Logger } from '../../platform/logger';
import { markdownLine } from '../../platform/markdown';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors';
import { requirePlausibleInstants } from '../../platform/plausible-time';
import { SYSTEM_ACTOR, type Actor, type AuditService } from '../audit/audit-service';
import type { Principal } from '../auth/principal';
import { canSeeIncident } from '../incidents/incident-access';
import type { Incident } from '../incidents/incident-entities';
import { formatIncidentId } from '../incidents/incident-rules';
import type { IncidentObserver, IncidentService } from '../incidents/incident-service';
import { addTimelineEvent } from '../incidents/incident-timeline';
import type { Outbox } from '../notifications/outbox';
import { atDailyDigestTime, createDailyJob } from '../timers/daily-job';
import { draftReviewFacts, type ReviewFacts } from './review-facts';
import { PostIncidentReviewSchema, ReviewActionItemSchema, type PostIncidentReview, type ReviewActionItem } from './review-entities';

export type ReviewReason = 'sev1' | 'recurring' | 'change' | 'requested';
const TEXT_FIELDS = ['rootCause', 'contributingFactors', 'wentWell', 'wentBadly', 'lessonsLearned'] as const;
export type ReviewText = Partial<Record<(typeof TEXT_FIELDS)[number], string>>;

/** Why an incident needs a review: Sev1 and recurring incidents always (INC-12). */
export function requiredReason(incident: Pick<Incident, 'severity' | 'recurring' | 'pirRequired'>): ReviewReason | null {
  if (incident.severity === 1) return 'sev1';
  if (incident.recurring) return 'recurring';
  return incident.pirRequired ? 'change' : null;
}

export type ReviewService = ReturnType<typeof createReviewService>;

/**
 * Post-incident reviews (INC-12, IMP-06): drafted automatically when an incident that
 * needs one is resolved (Sev1, recurring, caused by a change), on request otherwise. Facts
 * come from the record; staff write the analysis; action items are tracked to completion
 * with daily reminders for overdue ones; a review closes only when every item is done or
 * deferred by an incident manager with a reason.
 */
export function createReviewService(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; audit: AuditService; incidents: IncidentService; outbox: Outbox; logger: Logger; runnerId: string }) {
  const { orm, clock, configStore, audit } = deps;

  async function draft(em: EntityManager, incident: Incident, reason: ReviewReason, now: Date): Promise<PostIncidentReview> {
    const facts = await draftReviewFacts(em, incident, configStore.current, now);
    const review = em.create(PostIncidentReviewSchema, { incident, status: 'draft', reason, createdAt: now, updatedAt: now, facts: facts as unknown as Record<string, unknown>, factsAt: now });
    addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'review', message: `post-incident review drafted (${reason === 'requested' ? 'requested' : `required: ${reason}`})`, data: { reason } }, now);
    return review;
  }

  /** Drafts the review of a resolved (or closed) incident that needs one and has none yet. */
  async function draftIfRequired(em: EntityManager, incident: Incident, now: Date, reasonOverride?: ReviewReason): Promise<void> {
    if (incident.state !== 'resolved' && incident.state !== 'closed') return;
    const reason = reasonOverride ?? requiredReason(incident);
    if (!reason || (await em.count(PostIncidentReviewSchema, { incident }))) return;
    await draft(em, incident, reason, now);
  }

  const observer: IncidentObserver = {
    async stateChanged(em, incident, _from, to, now) {
      if (to === 'resolved') await draftIfRequired(em, incident, now);
    },
    async reviewRequired(em, incident, now) {
      await draftIfRequired(em, incident, now, 'change');
    },
  };

  /** Loads a review the principal may see (the incident's visibility rules apply). */
  async function load(em: EntityManager, id: number, principal: Principal): Promise<PostIncidentReview> {
    const review = await em.findOne(PostIncidentReviewSchema, { id }, { populate: ['incident'] });
    if (!review || !canSeeIncident(principal, configStore.current, review.incident)) throw new NotFoundError(`no review ${id}`);
    return review;
  }

  /** One change to a review in its own transaction: version check, audit, commit; stale writes get 409. */
  async function change<T>(id: number, principal: Principal, actor: Actor, action: string, expectedVersion: number | undefined, apply: (review: PostIncidentReview, em: EntityManager, now: Date) => Promise<T> | T): Promise<T> {
    try {
      return await orm.em.fork().transactional(async (em) => {
        const review = await load(em, id, principal);
        if (expectedVersion !== undefined && expectedVersion !== review.version) throw new ConflictError(`the review changed since you loaded it (version ${review.version}, you had ${expectedVersion}); reload and try again`, { current: review.version });
        const now = clock.now();
        const result = await apply(review, em, now);
        review.updatedAt = now;
        audit.record(em, { actor, action, entityType: 'post_incident_review', entityId: review.id, clientId: review.incident.clientId });
        await em.flush();
        return result;
      });
    } catch (error) {
      if (error instanceof OptimisticLockError) throw new ConflictError('someone else changed the review at the same moment; reload and try again');
      throw error;
    }
  }

  const assertDraft = (review: PostIncidentReview) => {
    if (review.status !== 'draft') throw new ConflictError('the review is closed');
  };

  const reminders = createDailyJob({
    name: 'review-action-reminders',
    orm,
    clock,
    logger: deps.logger,
    runnerId: deps.runnerId,
    ...atDailyDigestTime(configStore),
    async work(em, scheduledFor) {
      const overdue = await em.find(ReviewActionItemSchema, { status: 'open', dueAt: { $lt: clock.now() } }, { populate: ['review.incident'], orderBy: { dueAt: 'asc' } });
      for (const item of overdue) {
        const id = formatIncidentId(item.review.incident.number);
        await deps.outbox.enqueue(em, {
          kind: 'review.action_overdue',
          incidentId: item.review.incident.id,
          recipients: [item.owner],
          eventKey: `review-action-overdue:${item.id}:${scheduledFor.toISOString()}`,
          subject: `Overdue action from the review of ${id}: ${item.title}`,
          body: `This action item from the post-incident review of ${id} was due ${item.dueAt.toISOString()} and is still open:\n\n${item.title}\n\n${configStore.current.server.publicUrl}/pir/${item.review.id}`,
        });
        item.lastRemindedAt = clock.now();
      }
    },
  });

  return {
    observer,
    reminders,

    /** Starts a review for any incident (optional for incidents that do not require one). */
    async request(idText: string, principal: Principal, actor: Actor): Promise<PostIncidentReview> {
      let created: PostIncidentReview | null = null;
      await deps.incidents.update(idText, principal, actor, { action: 'incident.review_requested' }, async (incident, em, now) => {
        if (await em.count(PostIncidentReviewSchema, { incident })) throw new ConflictError(`${formatIncidentId(incident.number)} already has a review`);
        created = await draft(em, incident, requiredReason(incident) ?? 'requested', now);
        return [];
      });
      return created!;
    },

    async get(id: number, principal: Principal) {
      const em = orm.em.fork();
      const review = await load(em, id, principal);
      const items = await em.find(ReviewActionItemSchema, { review }, { orderBy: { id: 'asc' } });
      return { review, items };
    },

    async forIncident(incident: Incident, em: EntityManager) {
      return em.findOne(PostIncidentReviewSchema, { incident });
    },

    /** Writes the analysis; refreshing pulls the facts from the incident again. */
    update(id: number, principal: Principal, actor: Actor, input: ReviewText & { refreshFacts?: boolean; expectedVersion?: number }) {
      return change(id, principal, actor, 'review.updated', input.expectedVersion, async (review, em, now) => {
        assertDraft(review);
        for (const field of TEXT_FIELDS) if (input[field] !== undefined) review[field] = input[field]!.trim();
        if (input.refreshFacts) {
          review.facts = (await draftReviewFacts(em, review.incident, configStore.current, now)) as unknown as Record<string, unknown>;
          review.factsAt = now;
        }
        return review;
      });
    },

    addAction(id: number, principal: Principal, actor: Actor, input: { title: string; owner: string; dueAt: Date }) {
      return change(id, principal, actor, 'review.action_added', undefined, (review, em, now) => {
        assertDraft(review);
        requirePlausibleInstants(now, 'planned', { dueAt: input.dueAt });
        return em.create(ReviewActionItemSchema, { review, title: input.title, owner: input.owner.toLowerCase(), dueAt: input.dueAt, status: 'open', createdAt: now, createdBy: actor.name });
      });
    },

    updateAction(id: number, itemId: number, principal: Principal, actor: Actor, input: { status?: 'open' | 'done' | 'deferred'; title?: string; owner?: string; dueAt?: Date; reason?: string; expectedVersion?: number }) {
      return change(id, principal, actor, `review.action_${input.status ?? 'updated'}`, undefined, async (review, em, now) => {
        assertDraft(review);
        const item = await em.findOne(ReviewActionItemSchema, { id: itemId, review });
        if (!item) throw new NotFoundError(`no action item ${itemId} in review ${id}`);
        if (input.expectedVersion !== undefined && input.expectedVersion !== item.version) throw new ConflictError(`the action item changed since you loaded it (version ${item.version}); reload and try again`, { current: item.version });
        if (input.title !== undefined) item.title = input.title;
        if (input.owner !== undefined) item.owner = input.owner.toLowerCase();
        if (input.dueAt !== undefined) {
          requirePlausibleInstants(now, 'planned', { dueAt: input.dueAt });
          item.dueAt = input.dueAt;
        }
        if (input.status === 'deferred') {
          // Deferring is a decision to live with the risk: the incident manager's call.
          if (!principal.roles.some((role) => role === 'incident_manager' || role === 'admin')) throw new ForbiddenError('only an incident manager can defer an action item');
          if (!input.reason?.trim()) throw new ValidationError('deferring needs a reason', [{ path: 'reason', message: 'say why the item can wait' }]);
          item.deferredReason = input.reason.trim();
          item.deferredBy = actor.name;
        }
        if (input.status !== undefined) {
          item.status = input.status;
          item.doneAt = input.status === 'done' ? now : null;
          if (input.status !== 'deferred') {
            item.deferredReason = null;
            item.deferredBy = null;
          }
        }
        return item;
      });
    },

    close(id: number, principal: Principal, actor: Actor, input: { expectedVersion?: number }) {
      return change(id, principal, actor, 'review.closed', input.expectedVersion, async (review, em, now) => {
        assertDraft(review);
        const missing = (['rootCause', 'lessonsLearned'] as const).filter((field) => !review[field].trim());
        if (missing.length) throw new ValidationError('the review is not complete', missing.map((field) => ({ path: field, message: 'required to close the review' })));
        const open = await em.find(ReviewActionItemSchema, { review, status: 'open' });
        if (open.length) throw new ConflictError(`${open.length} action item(s) still open: ${open.map((item) => `#${item.id} ${item.title}`).join('; ')}; finish them or have an incident manager defer them with a reason`, { openItems: open.map((item) => item.id) });
        review.status = 'closed';
        review.closedAt = now;
        review.closedBy = actor.name;
        addTimelineEvent(em, review.incident, actor, { type: 'review', message: 'post-incident review closed' }, now);
        return review;
      });
    },
  };
}

/** The review as Markdown, for the wiki or the client's report. */
export function reviewMarkdown(review: PostIncidentReview, items: ReviewActionItem[]): string {
  const facts = review.facts as unknown as ReviewFacts;
  // Everything people or alerts typed is escaped: the export is evidence, not markup.
  const esc = markdownLine;
  const section = (title: string, text: string) => `## ${title}\n\n${text.trim() ? text.trim().split(/\n+/).map(esc).join('\n\n') : '_Not written yet._'}\n`;
  const minutes = (value: number | null) => (value === null ? 'n/a' : `${value} min`);
  return [
    `# Post-incident review: ${facts.incident.id} ${esc(facts.incident.title)}`,
    '',
    `Status: ${review.status}${review.closedAt ? ` (closed ${review.closedAt.toISOString()} by ${esc(review.closedBy)})` : ''}. Reason: ${review.reason}. Severity ${facts.incident.severity}, ${facts.incident.priority}, ${facts.incident.category.replace(/_/g, ' ')}.`,
    '',
    '## Impact',
    '',
    `- Clients: ${esc(facts.impact.clients.map((client) => client.name).join(', ')) || 'unknown'}`,
    ...(facts.impact.services.length ? facts.impact.services.map((service) => `- ${esc(service.name)}: affected ${service.minutes} min (${service.startedAt} to ${service.endedAt ?? 'still affected'})`) : ['- Services: none recorded']),
    `- Started ${facts.impact.startedAt}; mitigated ${facts.impact.mitigatedAt ?? 'n/a'}; restored ${facts.impact.restoredAt ?? 'not yet'}`,
    `- Duration: ${facts.impact.durationMinutes} min${facts.impact.degradedMinutes !== null ? ` (${facts.impact.degradedMinutes} min until mitigated)` : ''}`,
    '',
    '## Response',
    '',
    `- Time to acknowledge: ${minutes(facts.response.minutesToAcknowledge)}; to mitigate: ${minutes(facts.response.minutesToMitigate)}; to resolve: ${minutes(facts.response.minutesToResolve)}`,
    ...facts.response.sla.map((clock) => `- SLA ${clock.kind} (${clock.target}): ${clock.outcome ?? 'running'}`),
    `- Escalations: ${facts.response.escalations}`,
    `- Client updates: ${facts.response.clientUpdates.sent} sent, ${facts.response.clientUpdates.overdue} overdue${facts.response.clientUpdates.cadenceKept === null ? '' : facts.response.clientUpdates.cadenceKept ? ' (cadence kept)' : ' (cadence missed)'}`,
    '',
    '## Changes',
    '',
    ...(facts.changes.confirmed.length || facts.changes.suspected.length || facts.changes.dismissed.length
      ? [
          ...facts.changes.confirmed.map((change) => `- Confirmed cause: ${esc(change.reason)} (by ${esc(change.decidedBy)}${change.note ? `: ${esc(change.note)}` : ''})`),
          ...facts.changes.suspected.map((change) => `- Suspect (score ${change.score}): ${esc(change.reason)}`),
          ...facts.changes.dismissed.map((change) => `- Dismissed: ${change.changeId} (${esc(change.note)})`),
        ]
      : ['_No change in the look-back was linked to this incident._']),
    '',
    section('Root cause', review.rootCause),
    section('Contributing factors', review.contributingFactors),
    section('What went well', review.wentWell),
    section('What did not go well', review.wentBadly),
    section('Lessons learned', review.lessonsLearned),
    '## Action items',
    '',
    ...(items.length
      ? items.map((item) => `- [${item.status === 'done' ? 'x' : ' '}] ${esc(item.title)} (owner ${esc(item.owner)}, due ${item.dueAt.toISOString().slice(0, 10)}, ${item.status}${item.deferredReason ? `: ${esc(item.deferredReason)}` : ''})`)
      : ['_None._']),
    '',
    '## Timeline',
    '',
    ...facts.timeline.map((event) => `- ${event.at} ${esc(event.actor)}: ${esc(event.message)}${event.visibility === 'public' ? ' (public)' : ''}`),
    '',
  ].join('\n');
}
