import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ConflictError, NotFoundError } from '../../platform/errors';
import { SYSTEM_ACTOR, type Actor, type AuditService } from '../audit/audit-service';
import type { Principal } from '../auth/principal';
import { AlertSchema } from '../alert-intake/intake-entities';
import { catalogIndex } from '../catalog/catalog-index';
import { ChangeEventSchema, ChangeRequestSchema, type ChangeEvent, type ChangeRequest } from '../changes/change-entities';
import { formatChangeId, parseChangeId } from '../changes/change-rules';
import { canSeeIncident } from '../incidents/incident-access';
import { IncidentSchema, type Incident } from '../incidents/incident-entities';
import { formatIncidentId, isOpen, type IncidentState } from '../incidents/incident-rules';
import type { IncidentObserver, IncidentService } from '../incidents/incident-service';
import { addTimelineEvent } from '../incidents/incident-timeline';
import type { Outbox } from '../notifications/outbox';
import type { TimerEngine } from '../timers/timer-engine';
import { usersWithRole } from '../users/users-with-role';
import { SuspectChangeSchema, type SuspectChange } from './correlation-entities';
import { IMPLEMENTED_STATES, rankSuspects, rfcCandidate, type CandidateChange, type Topology } from './suspect-ranking';

const DEPLOY_PREFIX = 'DEP-';

const WINDOW_END_TIMER = 'correlation.window-end';
const OVERRUN_END_TIMER = 'correlation.overrun-end';
const CHANGE_ENDED_TIMER = 'correlation.change-ended';

export const deployLabel = (event: Pick<ChangeEvent, 'id'>) => `${DEPLOY_PREFIX}${event.id}`;

function candidateOfChange(change: ChangeRequest): CandidateChange | null {
  return rfcCandidate({
    id: formatChangeId(change.number),
    state: change.state,
    clientIds: change.clientIds,
    serviceIds: change.serviceIds,
    ciIds: change.ciIds,
    riskLevel: change.riskLevel ?? null,
    outcome: change.outcome ?? null,
    actualStart: change.actualStart ?? null,
    actualEnd: change.actualEnd ?? null,
    completedAt: change.completedAt ?? null,
    windowEnd: change.windowEnd ?? null,
  });
}

function candidateOfEvent(event: ChangeEvent, clientOf: (event: ChangeEvent) => string | null): CandidateChange {
  const clientId = event.clientId ?? clientOf(event);
  return {
    id: deployLabel(event),
    kind: 'deploy',
    clientIds: clientId ? [clientId] : [],
    serviceIds: event.serviceId ? [event.serviceId] : [],
    ciIds: event.ciId ? [event.ciId] : [],
    start: event.occurredAt,
    end: event.occurredAt,
    unauthorized: event.unauthorized,
    label: event.summary,
  };
}

/** The outcomes a responder may give a change when confirming it caused an incident (IMP-04). */
export const CONFIRM_OUTCOMES = ['failed', 'successful_with_issues'] as const;
export type ConfirmOutcome = (typeof CONFIRM_OUTCOMES)[number];

/**
 * Whether confirming the change as a cause sets its outcome: one recorded as successful (with
 * or without issues) did not go as recorded. Failed or backed out stays; one still in
 * progress gets its outcome from the implementer.
 */
function outcomeCorrectable(change: ChangeRequest | null): change is ChangeRequest {
  return change?.outcome === 'successful' || change?.outcome === 'successful_with_issues';
}

export type CorrelationService = ReturnType<typeof createCorrelationService>;

/**
 * Change <-> incident correlation (REL-01, REL-02, REL-04, IMP-05):
 * - ranks suspect changes (RFCs and deploy events) when an incident opens and when new
 *   alerts widen it, and keeps the best with their reasons;
 * - holds an incident whose alerts fire on the CIs of an in-progress change as "expected
 *   during" it (no paging, SLA clocks waiting, no client notice) until the change ends
 *   (completed, failed, backed out: at once, whatever its planned window said) or, if it
 *   overruns its window, until `correlation.overrunGrace` after the window; still firing then,
 *   it becomes a normal incident with the change as suspect, and the implementers and change
 *   managers hear of it. Durable timers do it, and the incident's row lock makes it happen once;
 * - records what responders decide: confirmed (the change's outcome, its backout plan, a
 *   review, and an unauthorized deploy recorded as such) or dismissed with a reason.
 */
export function createCorrelationService(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; timers: TimerEngine; outbox: Outbox; incidents: IncidentService; audit: AuditService }) {
  const { configStore, timers, outbox, incidents } = deps;

  function topology(): { topology: Topology; allCiIds: string[] } {
    const index = catalogIndex(configStore.current);
    return {
      topology: { dependsOn: (ci) => index.cis.get(ci)?.dependsOn ?? [], servicesOf: (ci) => index.servicesByCi.get(ci) ?? [] },
      allCiIds: [...index.cis.keys()],
    };
  }

  /** Ranks the incident's suspects and stores the best; decisions already taken stay. */
  async function rank(em: EntityManager, incident: Incident, now: Date): Promise<void> {
    if (!incident.clientId) return;
    const settings = configStore.current.correlation;
    const lookBackMs = parseDuration(settings.lookBack) ?? 72 * 3_600_000;
    const first = incident.reportedAt;
    const since = new Date(first.getTime() - lookBackMs);
    // One after the other: inside the incident's transaction they share one connection.
    const changes = await em.find(ChangeRequestSchema, {
      clientIds: { $contains: [incident.clientId] },
      state: { $in: [...IMPLEMENTED_STATES] },
      actualStart: { $ne: null, $lte: first },
      $or: [{ actualEnd: { $gte: since } }, { actualEnd: null, $or: [{ windowEnd: null }, { windowEnd: { $gte: since } }] }],
    });
    // Deploy events name a CI or service; the client comes from the catalog when they do not say.
    const index = catalogIndex(configStore.current);
    const clientCis = [...index.cis.values()].filter((ci) => ci.client === incident.clientId).map((ci) => ci.id);
    const clientServices = [...index.services.values()].filter((service) => service.client === incident.clientId).map((service) => service.id);
    const events = await em.find(ChangeEventSchema, { occurredAt: { $gte: since, $lte: first }, $or: [{ clientId: incident.clientId }, { clientId: null, ciId: { $in: clientCis } }, { clientId: null, serviceId: { $in: clientServices } }] });
    const clientOf = (event: ChangeEvent) => (event.ciId ? index.cis.get(event.ciId)?.client : event.serviceId ? index.services.get(event.serviceId)?.client : undefined) ?? null;
    const { topology: graph, allCiIds } = topology();
    const ranked = rankSuspects({ clientId: incident.clientId, serviceIds: incident.serviceIds, ciIds: incident.ciIds, firstAlertAt: first }, [...changes.map(candidateOfChange).filter((candidate) => candidate !== null), ...events.map((event) => candidateOfEvent(event, clientOf))], graph, { lookBackMs, allCiIds }).slice(0, settings.maxSuspects);
    const existing = await em.find(SuspectChangeSchema, { incident });
    const byLabel = new Map(existing.map((row) => [row.label, row]));
    const previousTop = existing.filter((row) => row.status === 'suspect').sort((a, b) => a.rank - b.rank)[0]?.label;
    ranked.forEach((suspect, index) => {
      const row = byLabel.get(suspect.changeId);
      const fields = { score: suspect.score, rank: index + 1, relation: suspect.relation, reason: suspect.reason, computedAt: now };
      if (row) Object.assign(row, fields);
      else {
        const change = suspect.kind === 'rfc' ? changes.find((candidate) => formatChangeId(candidate.number) === suspect.changeId) : null;
        const event = suspect.kind === 'deploy' ? events.find((candidate) => deployLabel(candidate) === suspect.changeId) : null;
        em.create(SuspectChangeSchema, { incident, label: suspect.changeId, change: change ?? null, changeEvent: event ?? null, status: 'suspect', ...fields });
      }
    });
    // Undecided suspects that dropped out of the list go; decisions stay on record.
    for (const row of existing) if (row.status === 'suspect' && !ranked.some((suspect) => suspect.changeId === row.label)) em.remove(row);
    const top = ranked[0];
    if (top && top.changeId !== previousTop) addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'correlation', message: `top suspect change: ${top.changeId} (score ${top.score}): ${top.reason}`, data: { changeId: top.changeId, score: top.score } }, now);
  }

  const overrunGraceMs = () => parseDuration(configStore.current.correlation.overrunGrace) ?? 30 * 60_000;

  /** The latest a change's alerts stay held: its window's end plus the overrun grace. */
  const holdDeadline = (change: ChangeRequest) => new Date(change.windowEnd!.getTime() + overrunGraceMs());

  /**
   * An in-progress change on one of the incident's CIs: its alerts are expected until it ends
   * (or, if it overruns its window, until the overrun grace runs out).
   */
  async function holdIfExpected(em: EntityManager, incident: Incident, now: Date): Promise<void> {
    if (!configStore.current.correlation.holdDuringChanges || !incident.clientId || incident.ciIds.length === 0 || incident.source !== 'monitoring') return;
    const change = await em.findOne(
      ChangeRequestSchema,
      // The change declares how its alerts are handled (`alertsDuringWindow`); `page` opts out.
      { state: 'in_progress', alertsDuringWindow: 'hold', clientIds: { $contains: [incident.clientId] }, ciIds: { $overlap: incident.ciIds }, windowStart: { $lte: now }, windowEnd: { $gt: new Date(now.getTime() - overrunGraceMs()) } },
      { orderBy: { windowEnd: 'desc' } },
    );
    if (!change?.windowEnd) return;
    incident.expectedDuringChange = change.number;
    // The window's end decides about an overrun (at once if it has passed).
    timers.schedule(em, { kind: WINDOW_END_TIMER, incidentId: incident.id, dueAt: change.windowEnd, payload: { change: change.number } });
    // The change may end while this transaction commits, after its own release ran: look again
    // once committed, so a hold never outlives its change.
    timers.schedule(em, { kind: CHANGE_ENDED_TIMER, incidentId: incident.id, dueAt: now, payload: { change: change.number } });
    const label = formatChangeId(change.number);
    const cis = change.ciIds.filter((ci) => incident.ciIds.includes(ci)).join(', ');
    const deadline = holdDeadline(change).toISOString();
    const window = change.windowEnd > now ? `window until ${change.windowEnd.toISOString()}` : `overrunning its window, which ended ${change.windowEnd.toISOString()}`;
    addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'correlation', message: `expected during ${label} (in progress on ${cis}, ${window}): nobody is paged and SLA clocks wait until it ends, or until ${deadline} at the latest if it overruns`, data: { changeId: label, holdUntil: deadline } }, now);
  }

  /** Why a hold ends, in words: "CHG-7 completed (successful)", "CHG-7 failed", ... */
  function endOf(label: string, change: ChangeRequest | null): string {
    if (!change) return `${label} is no longer recorded`;
    if (change.state === 'in_progress') {
      const windowEnd = change.windowEnd?.toISOString();
      return overrunGraceMs() > 0 ? `${label} overran its window (ended ${windowEnd}) by more than the grace of ${configStore.current.correlation.overrunGrace}` : `${label} was still in progress when its window ended (${windowEnd})`;
    }
    if (change.outcome === 'failed') return `${label} failed`;
    if (change.outcome === 'backed_out') return `${label} was backed out`;
    if (change.outcome) return `${label} completed (${change.outcome.replace(/_/g, ' ')})`;
    return `${label}'s implementation ended (${change.state})`;
  }

  /**
   * Ends the hold of a (locked) incident: its SLA clocks run, and alerts still firing make it a
   * normal incident with the change as suspect: paged, the client told, the implementers and
   * change managers mailed. Once: the caller checked that the hold is still this change's.
   */
  async function release(em: EntityManager, incident: Incident, number: number, change: ChangeRequest | null, now: Date): Promise<void> {
    incident.expectedDuringChange = null;
    const label = formatChangeId(number);
    const ended = endOf(label, change);
    const firing = isOpen(incident.state as IncidentState) ? await em.count(AlertSchema, { incident, status: 'firing' }) : 0;
    if (firing === 0) {
      addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'correlation', message: `${ended} with no alert firing: the expected alerts cleared` }, now);
      // Still open (the client's policy may keep cleared incidents open): its SLA clocks run again.
      if (isOpen(incident.state as IncidentState)) await incidents.releasedFromChange(em, incident, now);
      return;
    }
    // A change that failed or was backed out is the suspected cause, not merely a possible one (IMP-05).
    const failed = change?.outcome === 'failed' || change?.outcome === 'backed_out';
    const backout = `backout plan of ${label}: ${change?.backoutPlan || '(none recorded)'}`;
    const verdict = failed ? `${label} is the suspected cause; ${backout}` : `possibly caused by ${label}`;
    addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'correlation', message: `${firing} alert(s) still firing when ${ended}: now a normal incident, ${verdict}`, data: { changeId: label, promoted: true } }, now);
    await rank(em, incident, now);
    await incidents.releasedFromChange(em, incident, now);
    if (!change) return;
    const managers = await usersWithRole(em, 'change_manager');
    const id = formatIncidentId(incident.number);
    await outbox.enqueue(em, {
      kind: 'correlation.promoted',
      incidentId: incident.id,
      recipients: [...change.implementers, ...managers],
      eventKey: `correlation-promoted:${incident.id}:${number}`,
      subject: failed ? `${id} is probably caused by ${label}, which ${change.outcome === 'failed' ? 'failed' : 'was backed out'}: alerts still firing` : `${id} is possibly caused by ${label}: alerts still firing after ${change.state === 'in_progress' ? 'its window' : 'it ended'}`,
      body: `Alerts on ${incident.ciIds.join(', ')} began during ${label} (${change.title}) and are still firing now that ${ended}.\n\n${id}: ${incident.title}\nBackout plan of ${label}:\n${change.backoutPlan || '(none recorded)'}\n\n${configStore.current.server.publicUrl}/bridge/${id}`,
    });
  }

  /**
   * Looks at one held incident (locked, in the timer's transaction) and ends its hold when its
   * change no longer holds it. Every timer below comes here, so whichever fires first (on
   * whichever daemon) releases, and the others find the hold gone.
   */
  async function settleHold(em: EntityManager, incidentId: number, number: number, trigger: 'change_ended' | 'window_end' | 'overrun_end', now: Date): Promise<void> {
    // Lock the row, then read it afresh: another daemon may have just released it (and what an
    // earlier timer of this batch changed is flushed first, so the fresh read includes it).
    await em.flush();
    const incident = await em.findOne(IncidentSchema, { id: incidentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (!incident || incident.expectedDuringChange !== number) return;
    const change = await em.findOne(ChangeRequestSchema, { number }, { refresh: true });
    if (change?.state === 'in_progress') {
      // Still being implemented: only its window's end (and then the overrun grace) ends the hold.
      if (trigger === 'change_ended') return;
      const deadline = holdDeadline(change);
      if (trigger === 'window_end' && deadline > now) {
        await overrunning(em, incident, change, deadline, now);
        return;
      }
    }
    await release(em, incident, number, change, now);
  }

  /** The window ended with the change still in progress: its alerts stay held, for the grace only, and the implementers know until when. */
  async function overrunning(em: EntityManager, incident: Incident, change: ChangeRequest, deadline: Date, now: Date): Promise<void> {
    const label = formatChangeId(change.number);
    const id = formatIncidentId(incident.number);
    timers.schedule(em, { kind: OVERRUN_END_TIMER, incidentId: incident.id, dueAt: deadline, payload: { change: change.number } });
    addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'correlation', message: `${label} is overrunning its window (ended ${change.windowEnd!.toISOString()}) and still in progress: its alerts stay held until it ends, or until ${deadline.toISOString()} at the latest`, data: { changeId: label, holdUntil: deadline.toISOString() } }, now);
    // Nothing would page (its alerts cleared): no mail about it.
    if (!isOpen(incident.state as IncidentState) || (await em.count(AlertSchema, { incident, status: 'firing' })) === 0) return;
    await outbox.enqueue(em, {
      kind: 'correlation.overrun',
      incidentId: incident.id,
      recipients: [...change.implementers, ...(await usersWithRole(em, 'change_manager'))],
      eventKey: `correlation-overrun:${incident.id}:${change.number}`,
      subject: `${id} pages on-call at ${deadline.toISOString()} unless ${label} has ended`,
      body: `Alerts on ${incident.ciIds.join(', ')} are held as expected during ${label} (${change.title}), which is still in progress after its window ended (${change.windowEnd!.toISOString()}).\n\nIf ${label} is still in progress at ${deadline.toISOString()}, ${id} becomes a normal incident: on-call is paged, SLA clocks run and the client is told. Complete ${label}, or back it out:\n${change.backoutPlan || '(no backout plan recorded)'}\n\n${configStore.current.server.publicUrl}/bridge/${id}`,
    });
  }

  timers.register(WINDOW_END_TIMER, ({ em, timer, now }) => (timer.incident ? settleHold(em, timer.incident.id, Number(timer.payload.change), 'window_end', now) : Promise.resolve()));
  timers.register(OVERRUN_END_TIMER, ({ em, timer, now }) => (timer.incident ? settleHold(em, timer.incident.id, Number(timer.payload.change), 'overrun_end', now) : Promise.resolve()));
  timers.register(CHANGE_ENDED_TIMER, async ({ em, timer, now, touched }) => {
    const number = Number(timer.payload.change);
    // For one incident (just held), or every incident the change holds, one by one in id order.
    const ids = timer.incident ? [timer.incident.id] : (await em.find(IncidentSchema, { expectedDuringChange: number }, { orderBy: { id: 'asc' } })).map((incident) => incident.id);
    for (const id of ids) {
      await settleHold(em, id, number, 'change_ended', now);
      // Released (or not): the bridge and the status page show it once this commits.
      touched(id);
    }
  });

  /**
   * Change management's hook, in the transaction that moves a change out of "in progress"
   * (completed, failed, backed out or validating): a timer due now, committed with the change,
   * releases what it held. A timer, not the release itself: the implementer's request neither
   * waits for nor fails with the incidents, and no lock is taken on them while the change is locked.
   */
  function changeTransitioned(em: EntityManager, change: ChangeRequest, from: string, now: Date): void {
    if (from === 'in_progress') timers.schedule(em, { kind: CHANGE_ENDED_TIMER, incidentId: null, dueAt: now, payload: { change: change.number } });
  }

  const observer: IncidentObserver = {
    async created(em, incident, now) {
      await holdIfExpected(em, incident, now);
      await rank(em, incident, now);
    },
    async scopeChanged(em, incident, now) {
      await rank(em, incident, now);
    },
  };

  function present(row: SuspectChange, change: ChangeRequest | null) {
    const undecided = row.status === 'suspect';
    return {
      changeId: row.label,
      kind: row.changeEvent ? 'deploy' : 'rfc',
      score: Number(row.score),
      rank: row.rank,
      relation: row.relation,
      reason: row.reason,
      status: row.status,
      decidedBy: row.decidedBy,
      decidedAt: row.decidedAt?.toISOString() ?? null,
      decisionNote: row.decisionNote,
      // A confirmed cause shows how to undo it (IMP-05).
      backoutPlan: row.status === 'confirmed' && change ? change.backoutPlan : undefined,
      // What the responder chooses between when confirming: the outcome the RFC gets (empty when confirming leaves it as it is).
      outcomeChoices: undecided && outcomeCorrectable(change) ? [...CONFIRM_OUTCOMES] : [],
    };
  }

  async function decide(idText: string, label: string, principal: Principal, actor: Actor, decision: { confirm: true; outcome: ConfirmOutcome; note?: string } | { confirm: false; reason: string }) {
    return incidents.update(idText, principal, actor, { action: decision.confirm ? 'incident.cause_confirmed' : 'incident.suspect_dismissed' }, async (incident, em, now) => {
      const row = await em.findOne(SuspectChangeSchema, { incident, label: label.toUpperCase() }, { populate: ['change', 'changeEvent', 'changeEvent.change'] });
      if (!row) throw new NotFoundError(`${label} is not a suspect of ${formatIncidentId(incident.number)}`);
      if (row.status !== 'suspect') throw new ConflictError(`${row.label} was already ${row.status} by ${row.decidedBy}`);
      row.status = decision.confirm ? 'confirmed' : 'dismissed';
      row.decidedAt = now;
      row.decidedBy = actor.name;
      row.decisionNote = decision.confirm ? (decision.note ?? null) : decision.reason;
      if (!decision.confirm) return [{ type: 'correlation', message: `suspect ${row.label} dismissed: ${decision.reason}`, data: { changeId: row.label } }];
      incident.pirRequired = true;
      // Found after the incident was resolved: its review starts now (IMP-06).
      await incidents.reviewRequired(em, incident, now);
      const notes: string[] = [];
      // A deploy made under an RFC: the RFC is what did not go as recorded.
      const change = row.change ?? row.changeEvent?.change ?? null;
      if (change) {
        const before = { outcome: change.outcome, pirRequired: change.pirRequired };
        // The outcome the responder chose (the KPIs follow).
        if (outcomeCorrectable(change)) change.outcome = decision.outcome;
        change.pirRequired = true;
        deps.audit.record(em, { actor, action: 'change.caused_incident', entityType: 'change', entityId: row.label, clientId: change.clientIds[0] ?? null, before, after: { outcome: change.outcome, pirRequired: true, incident: formatIncidentId(incident.number) } });
        notes.push(`${formatChangeId(change.number)} outcome ${change.outcome ?? 'pending (in progress)'}; backout plan: ${change.backoutPlan || '(none recorded)'}`);
      }
      const event = row.changeEvent;
      if (event && !event.unauthorized && !event.change) {
        // The cause has no approved RFC behind it: an unauthorized change (REL-02).
        event.unauthorized = true;
        event.unauthorizedReason = `confirmed as the cause of ${formatIncidentId(incident.number)} with no approved RFC`;
        deps.audit.record(em, { actor, action: 'change_event.unauthorized', entityType: 'change_event', entityId: event.id, clientId: event.clientId, after: { reason: event.unauthorizedReason } });
        notes.push(`${row.label} recorded as an unauthorized change`);
      }
      return [{ type: 'correlation', message: `confirmed: caused by ${row.label}${decision.note ? ` (${decision.note})` : ''}; a post-incident review is required${notes.length ? `; ${notes.join('; ')}` : ''}`, data: { changeId: row.label, confirmed: true } }];
    });
  }

  return {
    observer,
    rank,
    changeTransitioned,

    /** The incident's suspects, best first; decided ones after the undecided. */
    async suspectsOf(em: EntityManager, incident: Incident) {
      const rows = await em.find(SuspectChangeSchema, { incident }, { populate: ['change', 'changeEvent', 'changeEvent.change'], orderBy: { rank: 'asc' } });
      const order = (row: SuspectChange) => (row.status === 'confirmed' ? 0 : row.status === 'suspect' ? 1 : 2);
      // A deploy made under an RFC is that RFC's doing (as when it is confirmed).
      return rows.sort((a, b) => order(a) - order(b) || a.rank - b.rank).map((row) => present(row, row.change ?? row.changeEvent?.change ?? null));
    },

    confirm: (idText: string, label: string, principal: Principal, actor: Actor, input: { outcome?: ConfirmOutcome; note?: string }) =>
      decide(idText, label, principal, actor, { confirm: true, outcome: input.outcome ?? 'successful_with_issues', note: input.note }),
    dismiss: (idText: string, label: string, principal: Principal, actor: Actor, input: { reason: string }) => decide(idText, label, principal, actor, { confirm: false, reason: input.reason }),

    /** Incidents linked to a change: suspected, confirmed or dismissed, and held during it. */
    async incidentsOfChange(em: EntityManager, changeIdText: string, principal: Principal) {
      const number = parseChangeId(changeIdText);
      const change = number === undefined ? null : await em.findOne(ChangeRequestSchema, { number });
      if (!change) throw new NotFoundError(`no change ${changeIdText}`);
      const rows = await em.find(SuspectChangeSchema, { change }, { populate: ['incident'], orderBy: { id: 'asc' } });
      const held = await em.find(IncidentSchema, { expectedDuringChange: change.number });
      // The usual visibility: security incidents only for those who may see them. An incident
      // held during the change and also ranked as its suspect is listed once, as the suspect.
      const visible = (incident: Incident) => canSeeIncident(principal, configStore.current, incident);
      const suspected = new Set(rows.map((row) => row.incident.id));
      return {
        changeId: formatChangeId(change.number),
        incidents: [
          ...rows.filter((row) => visible(row.incident)).map((row) => ({ incidentId: formatIncidentId(row.incident.number), title: row.incident.title, state: row.incident.state, link: row.status, score: Number(row.score), reason: row.reason })),
          ...held.filter((incident) => visible(incident) && !suspected.has(incident.id)).map((incident) => ({ incidentId: formatIncidentId(incident.number), title: incident.title, state: incident.state, link: 'expected_during_change', score: null, reason: `alerts during ${formatChangeId(change.number)}'s window` })),
        ],
      };
    },
  };
}
