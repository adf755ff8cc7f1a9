import type { EntityManager } from '@mikro-orm/postgresql';
import type { RiskAnswers } from './change-risk';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import { ConflictError, ForbiddenError, ValidationError } from '../../platform/errors';
import { implausibleInstants } from '../../platform/plausible-time';
import { SYSTEM_ACTOR, type Actor, type AuditService } from '../audit/audit-service';
import type { Principal } from '../auth/principal';
import { catalogIndex } from '../catalog/catalog-index';
import type { IncidentService } from '../incidents/incident-service';
import type { TimerEngine } from '../timers/timer-engine';
import { describeGroup, segregationProblem } from './change-approval-rules';
import type { ChangeApprovals } from './change-approvals';
import type { ChangeValidations } from './change-validation';
import { eligibilityProblems } from './change-catalog';
import { ChangeApprovalSchema, ChangeRequestSchema, type ChangeRequest } from './change-entities';
import { usersWithRole } from '../users/users-with-role';
import { TIME_ANNOUNCED, type ChangeNotices } from './change-notices';
import { relatedCis } from './change-risk';
import { formatChangeId, IMPLEMENTATION_STARTED_STATES, missingFields, transitionProblem, WINDOW_HOLDING_STATES, reviewRequired, type ChangeFields, type ChangeState, type ChangeType, type Outcome, type RiskLevel, type Step } from './change-rules';
import { pastWindowProblems, scheduleViolations, within, type ScheduleViolation, type Window } from './change-scheduling';
import { changeSnapshot, type ChangeCore, type ChangeStep } from './change-service';

export const REMINDER_TIMER = 'change.reminder';
export const OVERRUN_TIMER = 'change.overrun';

type Options = { expectedVersion?: number; requestId?: string };

/** 400 listing every field the step needs and the change lacks. */
function requireFields(change: ChangeRequest, step: Step): void {
  const missing = missingFields(change as unknown as ChangeFields, step);
  if (missing.length) {
    throw new ValidationError(`${formatChangeId(change.number)} lacks required fields to ${step}: ${missing.join(', ')}`, missing.map((field) => ({ path: field, message: `required to ${step} a ${change.type} change` })));
  }
}

function requireImplementer(change: ChangeRequest, principal: Principal, what: string): void {
  if (!change.implementers.includes(principal.email.toLowerCase())) throw new ForbiddenError(`only an assigned implementer (${change.implementers.join(', ')}) may ${what} ${formatChangeId(change.number)}`);
}

function windowOf(change: ChangeRequest): Window | null {
  return change.windowStart && change.windowEnd ? { start: change.windowStart, end: change.windowEnd } : null;
}

/** The window the current approval covers; null when not approved, or approved without one (an emergency "as soon as possible"). */
function approvedWindowOf(change: ChangeRequest): Window | null {
  return change.approvedWindowStart && change.approvedWindowEnd ? { start: change.approvedWindowStart, end: change.approvedWindowEnd } : null;
}

/** Whether this window leaves what the approvers approved: a narrower window inside it does not (IMP-01). */
function leavesApprovedWindow(change: ChangeRequest, window: Window): boolean {
  const approved = approvedWindowOf(change);
  return approved !== null && !within(window, approved);
}

const describeWindow = (window: Window) => `${window.start.toISOString()} - ${window.end.toISOString()}`;

/** 400 naming the field when a window lies in the past (every change type; see pastWindowProblems) or beyond the planning horizon. */
function requireFutureWindow(change: ChangeRequest, window: Window, now: Date): void {
  const problems = [...pastWindowProblems(window, now), ...implausibleInstants(now, 'planned', { 'window.end': window.end })];
  if (problems.length) throw new ValidationError(`${formatChangeId(change.number)}: ${problems.map((problem) => problem.message).join('; ')}`, problems);
}

/** The recorded exception, when the window lies within the one it was accepted for; else null. */
function exceptionFor(change: ChangeRequest, window: Window): { accepted: string[] } | null {
  const exception = change.scheduleException as { accepted?: string[]; window?: { start: string; end: string } } | null;
  if (!exception?.window) return null;
  const inside = window.start.getTime() >= Date.parse(exception.window.start) && window.end.getTime() <= Date.parse(exception.window.end);
  return inside ? { accepted: exception.accepted ?? [] } : null;
}

export type ChangeWorkflow = ReturnType<typeof createChangeWorkflow>;

/**
 * The workflow actions after the draft (CHG-02, CHG-05, CHG-12, SCH-01..04, IMP-01..06,
 * COM-01..02): each checks its preconditions, moves the state, writes its notices and
 * timers in the same transaction, and is audited by `core.mutate`.
 */
export function createChangeWorkflow(deps: { core: ChangeCore; approvals: ChangeApprovals; notices: ChangeNotices; validations: ChangeValidations; timers: TimerEngine; configStore: ConfigStore; incidents: IncidentService; audit: AuditService }) {
  const { core, approvals, notices, timers, configStore } = deps;

  /**
   * Everything that stands in the way of this window. Notice (SCH-02) counts from submission,
   * or from now for a window outside the approved one: that window is proposed now, and its
   * approvers and the client need the same notice as for a first submission.
   */
  async function violationsFor(em: EntityManager, change: ChangeRequest, window: Window, now: Date): Promise<ScheduleViolation[]> {
    const config = configStore.current;
    const index = catalogIndex(config);
    const others = await em.find(ChangeRequestSchema, { id: { $ne: change.id }, state: { $in: WINDOW_HOLDING_STATES }, windowStart: { $lt: window.end }, windowEnd: { $gt: window.start } });
    return scheduleViolations({
      type: change.type as ChangeType,
      window,
      submittedAt: leavesApprovedWindow(change, window) ? now : (change.submittedAt ?? now),
      clients: change.clientIds.map((id) => index.clients.get(id)).filter((client) => client !== undefined),
      freezes: config.freezes,
      relatedCiIds: relatedCis(change.ciIds, config.configurationItems),
      others: others.map((other) => ({ id: formatChangeId(other.number), ciIds: other.ciIds, window: windowOf(other)! })),
    });
  }

  function scheduleReminders(em: EntityManager, change: ChangeRequest, now: Date): void {
    const config = configStore.current;
    for (const clientId of change.clientIds) {
      const notifyBefore = parseDuration(config.clients.find((client) => client.id === clientId)?.changePolicy.notifyBefore ?? '48h') ?? 0;
      const dueAt = new Date(change.windowStart!.getTime() - notifyBefore);
      // Already inside the notice period: the scheduling notice itself is the heads-up.
      if (dueAt > now) timers.schedule(em, { kind: REMINDER_TIMER, incidentId: null, dueAt, payload: { changeId: change.id, clientId, windowStart: change.windowStart!.toISOString() } });
    }
  }

  /** Why this change in this window is not a standard change of its catalog entry; empty when it is (CHG-10). */
  function standardProblems(change: ChangeRequest, window: Window | null, now: Date): string[] {
    const config = configStore.current;
    const index = catalogIndex(config);
    const template = config.standardChanges.find((candidate) => candidate.id === change.standardChangeId);
    if (!template) return [`no catalog entry "${change.standardChangeId ?? '(none)'}"`];
    return eligibilityProblems(
      template,
      { implementationPlan: change.implementationPlan, window, riskLevel: change.riskLevel as RiskLevel | null },
      change.ciIds.map((id) => index.cis.get(id)).filter((ci) => ci !== undefined),
      change.clientIds.map((id) => index.clients.get(id)).filter((client) => client !== undefined),
      now,
    );
  }

  async function submitStandard(em: EntityManager, change: ChangeRequest, now: Date): Promise<string> {
    const problems = standardProblems(change, windowOf(change), now);
    if (problems.length === 0) {
      core.moveTo(change, 'approved');
      change.approvedAt = now;
      // The catalog pre-approves this window; a move out of it is checked against the template again.
      change.approvedWindowStart = change.windowStart;
      change.approvedWindowEnd = change.windowEnd;
      await approvals.requestApprovals(em, change, now);
      return `pre-approved standard change "${change.standardChangeId}"`;
    }
    // Outside the template: it is a normal change and goes through assessment and approval.
    change.type = 'normal';
    return `not eligible as standard change, now a normal change: ${problems.join('; ')}`;
  }

  /**
   * COM-03: the CAB team hears of significant changes (medium/high risk or emergency) before
   * they are implemented. The notice goes to the configured `cab.team` (people and its list
   * address); deciding as the board takes the `cab_member` role. Keep the two in step.
   */
  async function tellCabOfSignificant(em: EntityManager, change: ChangeRequest): Promise<void> {
    if (change.type !== 'emergency' && !['medium', 'high'].includes(change.riskLevel ?? '')) return;
    const config = configStore.current;
    const team = config.teams.find((candidate) => candidate.id === config.cab.team);
    if (!team) return;
    await notices.toStaff(em, change, {
      kind: 'change.significant_scheduled',
      recipients: [...team.members, ...(team.email ? [team.email] : [])],
      subject: `significant change scheduled: ${change.title}`,
      body: `A ${change.type} change of ${change.riskLevel ?? 'unassessed'} risk is scheduled for ${change.windowStart!.toISOString()} - ${change.windowEnd!.toISOString()}.\nClients: ${change.clientIds.join(', ')}; CIs: ${change.ciIds.join(', ')}.\nExpected impact: ${change.expectedImpact || 'none expected'}`,
      eventKey: `significant:${change.windowStart!.toISOString()}`,
    });
  }

  /**
   * The change moves out of the window its approvals were given for (CHG-06, CHG-08): they
   * are withdrawn, the change waits for approval again, and the approvers are asked again
   * through the usual requests (a new round; client links of the old round stop working).
   * Clients who were told the old time hear that it no longer holds (COM-02); the new time
   * is announced once it is approved and scheduled.
   */
  async function askAgain(em: EntityManager, change: ChangeRequest, move: { from: ChangeState; previous: Window | null; approved: Window; window: Window; expectedImpact?: string }, now: Date): Promise<ChangeStep> {
    const round = change.approvalRound;
    const withdrawn = await approvals.withdrawApprovals(em, change);
    core.moveTo(change, 'awaiting_approval');
    change.windowStart = move.window.start;
    change.windowEnd = move.window.end;
    if (move.expectedImpact !== undefined) change.expectedImpact = move.expectedImpact;
    change.scheduledAt = null;
    // Clients told a time (a scheduled change, or an emergency change announced at its approval) hear it no longer holds.
    const told = await notices.lastToldClients(em, change);
    if (move.previous && told && TIME_ANNOUNCED.includes(told)) await notices.toClients(em, configStore.current, change, 'on_hold', { previousStart: move.previous.start });
    const rows = await approvals.requestApprovals(em, change, now, { previousWindow: move.approved });
    const given = withdrawn.map((row) => `${describeGroup(row.approverGroup)} (${row.decidedBy})`).join(', ') || 'none';
    return {
      action: 'change.reapproval_requested',
      note: `moved from ${move.previous ? describeWindow(move.previous) : '(no window)'} to ${describeWindow(move.window)}, outside the approved window ${describeWindow(move.approved)}; approvals of round ${round} withdrawn: ${given}; approval requested again from: ${rows.map((row) => describeGroup(row.approverGroup)).join(', ')}`,
    };
  }

  return {
    violationsFor,

    submit(idText: string, principal: Principal, actor: Actor, options: Options) {
      return core.mutate(idText, principal, actor, options, async (change, em, now): Promise<ChangeStep> => {
        core.requireOwnerOrManager(change, principal, 'submit');
        const resubmission = change.state === 'rejected' || change.state === 'deferred';
        core.moveTo(change, 'submitted');
        requireFields(change, 'submit');
        // A requested schedule that already began cannot be assessed, approved or kept (any type).
        const requested = windowOf(change);
        if (requested) requireFutureWindow(change, requested, now);
        change.submittedAt = now;
        if (resubmission) change.resubmissions += 1;
        let note = resubmission ? `re-submitted (${change.resubmissions})` : 'submitted';
        if (change.type === 'standard') note += `; ${await submitStandard(em, change, now)}`;
        if (change.type === 'emergency') {
          // Expedited (CHG-08): straight to the emergency CAB; the retrospective review is owed from now on.
          core.moveTo(change, 'awaiting_approval');
          change.pirRequired = true;
          await approvals.requestApprovals(em, change, now);
          note += '; sent to the emergency CAB';
        }
        return { action: 'change.submitted', note };
      });
    },

    assess(idText: string, principal: Principal, actor: Actor, input: Options & { notes: string; risk?: RiskAnswers; complete: boolean }) {
      return core.mutate(idText, principal, actor, input, async (change, em, now) => {
        if (change.state === 'submitted') core.moveTo(change, 'assessment');
        else if (change.state !== 'assessment') throw new ConflictError(`only a submitted change is assessed; ${formatChangeId(change.number)} is ${change.state}`, { from: change.state, to: 'assessment' });
        change.assessmentNotes = input.notes;
        if (input.risk) change.riskAnswers = input.risk;
        await core.applyRisk(em, change);
        if (!input.complete) return { action: 'change.assessment_started', note: input.notes };
        if (!change.riskLevel) throw new ValidationError('assessment needs the risk questionnaire', [{ path: 'risk', message: 'answer the risk questionnaire to complete the assessment' }]);
        // CHG-05: conflicts are part of the assessment; they block only when scheduling.
        const window = windowOf(change);
        const conflicts = window ? await violationsFor(em, change, window, now) : [];
        core.moveTo(change, 'awaiting_approval');
        const rows = await approvals.requestApprovals(em, change, now);
        const found = conflicts.length ? `; scheduling issues to resolve: ${conflicts.map((v) => v.message).join('; ')}` : '';
        return { action: 'change.assessed', note: `risk ${change.riskLevel} (${change.riskScore}); approvals requested: ${rows.map((row) => row.approverGroup).join(', ')}${found}` };
      });
    },

    /** CHG-12: the change manager accepts the risk of the current violations, which then no longer block scheduling. */
    recordException(idText: string, principal: Principal, actor: Actor, input: Options & { riskAcceptance: string; window?: { start: string; end: string } }) {
      return core.mutate(idText, principal, actor, input, async (change, em, now) => {
        const sod = segregationProblem(change, principal.email);
        if (sod) throw new ForbiddenError(sod.replace('approve it', 'accept its risks'));
        if (!['approved', 'scheduled'].includes(change.state)) throw new ConflictError(`exceptions are recorded for approved or scheduled changes; ${formatChangeId(change.number)} is ${change.state}`);
        const window = input.window ? { start: new Date(input.window.start), end: new Date(input.window.end) } : windowOf(change);
        if (!window) throw new ValidationError('no window to check', [{ path: 'window', message: 'give the window the exception is for' }]);
        // No exception covers the past: it is never a window to schedule into.
        requireFutureWindow(change, window, now);
        const violations = await violationsFor(em, change, window, now);
        if (violations.length === 0) throw new ConflictError('the window breaks no scheduling rule; no exception is needed');
        change.scheduleException = { accepted: violations.map((v) => v.key), violations: violations.map((v) => v.message), riskAcceptance: input.riskAcceptance, approvedBy: principal.email, at: now.toISOString(), window: { start: window.start.toISOString(), end: window.end.toISOString() } };
        // Reviewed afterwards (CHG-12).
        change.pirRequired = true;
        return { action: 'change.exception_recorded', note: `exception for ${violations.map((v) => v.key).join(', ')}: ${input.riskAcceptance}` };
      });
    },

    /**
     * Schedules an approved change, or moves a scheduled one (SCH-01..04). A window outside
     * the approved one is a different plan from the one approved: the approvals are withdrawn
     * and asked again (normal and emergency changes), or the catalog template is checked
     * again (standard changes). Once implementation has started the window stays (IMP-01).
     */
    schedule(idText: string, principal: Principal, actor: Actor, input: Options & { window?: { start: string; end: string }; expectedImpact?: string }) {
      return core.mutate(idText, principal, actor, input, async (change, em, now) => {
        const id = formatChangeId(change.number);
        const from = change.state as ChangeState;
        if (IMPLEMENTATION_STARTED_STATES.includes(from)) {
          throw new ConflictError(
            `${id} is ${from.replace(/_/g, ' ')}: implementation started${change.actualStart ? ` at ${change.actualStart.toISOString()}` : ''}, so its window can no longer be moved; complete it (or back it out) and raise a new change for what is left`,
            { reason: 'implementation_started', state: from, actualStart: change.actualStart?.toISOString() ?? null },
          );
        }
        const problem = transitionProblem(from, 'scheduled');
        if (problem) throw new ConflictError(problem, { from, to: 'scheduled' });
        const rescheduling = from === 'scheduled';
        const previous = windowOf(change);
        const window = input.window ? { start: new Date(input.window.start), end: new Date(input.window.end) } : previous;
        if (!window || window.end <= window.start) throw new ValidationError('a change is scheduled into a window', [{ path: 'window', message: 'give a window that ends after it starts' }]);
        requireFutureWindow(change, window, now);
        // SCH-04: one scheduling at a time, so two overlapping changes cannot both pass the conflict check.
        await em.getConnection().execute("select pg_advisory_xact_lock(hashtext('change-schedule'))", [], 'all', em.getTransactionContext());
        const exception = exceptionFor(change, window);
        // An exception accepted the risks of one window; moving the change elsewhere lets it lapse (CHG-12).
        if (!exception) change.scheduleException = null;
        const accepted = new Set(exception?.accepted ?? []);
        const blocking = (await violationsFor(em, change, window, now)).filter((violation) => !accepted.has(violation.key));
        const freeze = blocking.find((violation) => violation.code === 'freeze');
        if (freeze) throw new ConflictError(`cannot schedule into a freeze: ${freeze.message}; the change manager may record an exception with risk acceptance`, { violations: blocking });
        if (blocking.length) throw new ConflictError(`the window breaks scheduling rules: ${blocking.map((v) => v.message).join('; ')}`, { violations: blocking });
        const approved = approvedWindowOf(change);
        const config = configStore.current;
        let carried = '';
        if (approved && leavesApprovedWindow(change, window)) {
          if (change.type !== 'standard') return askAgain(em, change, { from, previous, approved, window, expectedImpact: input.expectedImpact }, now);
          // Pre-approved by the catalog (CHG-10): the new window must fit the template as at submission.
          const problems = standardProblems(change, window, now);
          if (problems.length) {
            throw new ConflictError(`${id} would no longer be a standard change of "${change.standardChangeId}" in that window: ${problems.join('; ')}; keep a window inside the template, or cancel it and raise a normal change`, { reason: 'standard_change_ineligible', problems });
          }
          change.approvedWindowStart = window.start;
          change.approvedWindowEnd = window.end;
          carried = `; catalog pre-approval "${change.standardChangeId}" re-checked and moved from ${describeWindow(approved)}`;
        }
        // Approved without a window (an emergency "as soon as possible"): the first window it is
        // scheduled into is the one the approval covers from now on; moving out of it asks again.
        if (!approved && change.type !== 'standard') {
          change.approvedWindowStart = window.start;
          change.approvedWindowEnd = window.end;
        }
        core.moveTo(change, 'scheduled');
        change.windowStart = window.start;
        change.windowEnd = window.end;
        if (input.expectedImpact !== undefined) change.expectedImpact = input.expectedImpact;
        change.scheduledAt = now;
        const previousStart = previous?.start;
        if (rescheduling && previousStart && previousStart.getTime() !== window.start.getTime()) {
          await notices.toClients(em, config, change, 'postponed', { previousStart });
        } else await notices.toClients(em, config, change, 'scheduled');
        await tellCabOfSignificant(em, change);
        scheduleReminders(em, change, now);
        return { action: rescheduling ? 'change.rescheduled' : 'change.scheduled', note: `${describeWindow(window)}${accepted.size ? ` (exception: ${[...accepted].join(', ')})` : ''}${carried}` };
      });
    },

    start(idText: string, principal: Principal, actor: Actor, options: Options) {
      return core.mutate(idText, principal, actor, options, (change, em, now) => {
        requireImplementer(change, principal, 'start');
        core.moveTo(change, 'in_progress');
        if (now < change.windowStart!) throw new ConflictError(`the approved window starts at ${change.windowStart!.toISOString()}; starting early is refused`);
        if (now >= change.windowEnd!) throw new ConflictError(`the approved window ended at ${change.windowEnd!.toISOString()}; reschedule the change`);
        // A window outside what was approved (a change moved before approvals covered a window, see migration 0010) needs approval again first.
        if (leavesApprovedWindow(change, windowOf(change)!)) {
          throw new ConflictError(`${formatChangeId(change.number)} is scheduled outside the window its approval covers (${describeWindow(approvedWindowOf(change)!)}); schedule it again to ask the approvers`, { reason: 'outside_approved_window' });
        }
        requireFields(change, 'start');
        change.actualStart = now;
        timers.schedule(em, { kind: OVERRUN_TIMER, incidentId: null, dueAt: change.windowEnd!, payload: { changeId: change.id } });
        return { action: 'change.started', note: `implementation started by ${principal.email}` };
      });
    },

    complete(idText: string, principal: Principal, actor: Actor, input: Options & { outcome?: Outcome; notes?: string; openIncident?: { title?: string; severity: 1 | 2 | 3 | 4 } }) {
      return core.mutate(idText, principal, actor, input, async (change, em, now) => {
        requireImplementer(change, principal, 'complete');
        if (input.notes) change.implementationNotes = input.notes;
        change.actualEnd ??= now;
        change.overrun ||= change.actualEnd > change.windowEnd!;
        if (!input.outcome) {
          core.moveTo(change, 'validating');
          return { action: 'change.validating', note: 'implementation done; validating (IMP-03)' };
        }
        core.moveTo(change, 'completed');
        change.outcome = input.outcome;
        change.completedAt = now;
        change.pirRequired ||= reviewRequired({ type: change.type as ChangeType, riskLevel: change.riskLevel as RiskLevel | null, outcome: input.outcome, hasException: !!change.scheduleException }, configStore.current.changeApproval.reviewRequired);
        const failed = input.outcome === 'failed' || input.outcome === 'backed_out';
        if (input.openIncident && !failed) throw new ValidationError('only a failed change opens an incident', [{ path: 'openIncident', message: 'only with outcome failed or backed_out' }]);
        let note = `outcome ${input.outcome}${change.overrun ? ' (window overrun)' : ''}`;
        if (failed) note += `; backout plan: ${change.backoutPlan || '(none recorded)'}`;
        if (input.openIncident) {
          const incident = await deps.incidents.createInTransaction(
            em,
            { title: input.openIncident.title ?? `Failed change ${formatChangeId(change.number)}: ${change.title}`, description: `${change.description}\n\nBackout plan:\n${change.backoutPlan}`, clientId: change.clientIds[0] ?? null, serviceIds: change.serviceIds, ciIds: change.ciIds, severity: input.openIncident.severity, urgency: 'high', category: 'other', source: 'staff', reportedBy: principal.email, impact: change.expectedImpact, reportedAt: now },
            actor,
          );
          change.incident = incident;
          note += `; opened incident INC-${incident.number}`;
        }
        await notices.toClients(em, configStore.current, change, 'completed');
        // The clients that ask for it confirm that everything works (IMP-03).
        if (!failed) {
          const asked = await deps.validations.request(em, configStore.current, change, now);
          if (asked) note += `; client validation asked of ${asked} contact(s)`;
        }
        return { action: 'change.completed', note };
      });
    },

    review(idText: string, principal: Principal, actor: Actor, input: Options & { summary: string; testResults?: string; backoutPlan?: string; testPlan?: string }) {
      return core.mutate(idText, principal, actor, input, (change, _em, now) => {
        core.moveTo(change, 'reviewed');
        // An emergency change completes its documentation in the retrospective (CHG-08).
        for (const field of ['testResults', 'backoutPlan', 'testPlan'] as const) if (input[field]) change[field] = input[field]!;
        requireFields(change, 'review');
        change.pirSummary = input.summary;
        change.pirCompletedAt = now;
        return { action: 'change.reviewed', note: input.summary };
      });
    },

    close(idText: string, principal: Principal, actor: Actor, options: Options) {
      return core.mutate(idText, principal, actor, options, async (change, em, now) => {
        if (change.state === 'completed' && change.pirRequired) throw new ConflictError(`${formatChangeId(change.number)} needs its post-implementation review before it is closed`);
        await deps.validations.assertClosable(em, change, now);
        core.moveTo(change, 'closed');
        requireFields(change, 'close');
        change.closedAt = now;
        return { action: 'change.closed' };
      });
    },

    cancel(idText: string, principal: Principal, actor: Actor, input: Options & { reason: string }) {
      return core.mutate(idText, principal, actor, input, async (change, em, now) => {
        core.requireOwnerOrManager(change, principal, 'cancel');
        core.moveTo(change, 'cancelled');
        change.cancelledAt = now;
        await em.nativeUpdate(ChangeApprovalSchema, { change, status: 'pending' }, { status: 'superseded' });
        // Whoever was told of it hears it is off: scheduled, or on hold waiting for approval again after a move.
        const told = await notices.lastToldClients(em, change);
        if (told && told !== 'cancelled') await notices.toClients(em, configStore.current, change, 'cancelled', { reason: input.reason });
        return { action: 'change.cancelled', note: input.reason };
      });
    },

    /** Timer: the client's notice period before the window starts (COM-02). */
    async remind(em: EntityManager, payload: { changeId: number; clientId: string; windowStart: string }): Promise<void> {
      const change = await em.findOne(ChangeRequestSchema, { id: payload.changeId });
      // Moved or cancelled since: the reminder for that window is void.
      if (!change || change.state !== 'scheduled' || change.windowStart?.toISOString() !== payload.windowStart) return;
      await notices.toClients(em, configStore.current, change, 'reminder', { onlyClient: payload.clientId });
    },

    /** Timer: the window ended while the change is still being implemented (IMP-01 overrun). */
    async flagOverrun(em: EntityManager, payload: { changeId: number }, now: Date): Promise<void> {
      const change = await em.findOne(ChangeRequestSchema, { id: payload.changeId });
      if (!change || !['in_progress', 'validating'].includes(change.state as ChangeState) || change.actualEnd || now < change.windowEnd!) return;
      const before = changeSnapshot(change);
      change.overrun = true;
      deps.audit.record(em, { actor: SYSTEM_ACTOR, action: 'change.overrun', entityType: 'change', entityId: formatChangeId(change.number), clientId: change.clientIds[0] ?? null, before, after: changeSnapshot(change) });
      await notices.toStaff(em, change, {
        kind: 'change.overrun',
        recipients: [...change.implementers, ...(await usersWithRole(em, 'change_manager'))],
        subject: `overrunning its window (ended ${change.windowEnd!.toISOString()})`,
        body: `"${change.title}" is still being implemented after its approved window ended. Complete it, or back it out per the backout plan.`,
        eventKey: `overrun:${change.windowEnd!.toISOString()}`,
      });
    },
  };
}
