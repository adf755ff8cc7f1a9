import { LockMode, OptimisticLockError } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { StandardChangeConfig } from '../../config/change-config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors';
import { implausibleInstants } from '../../platform/plausible-time';
import type { Actor, AuditService } from '../audit/audit-service';
import { hasAnyRole, type Principal } from '../auth/principal';
import { catalogIndex } from '../catalog/catalog-index';
import { isClientContact } from '../incidents/incident-access';
import { UserSchema } from '../users/user-entities';
import { ChangeRequestSchema, type ChangeRequest } from './change-entities';
import { assessRisk, dependentsOf, type RiskAnswers } from './change-risk';
import { EDITABLE_STATES, formatChangeId, parseChangeId, transitionProblem, type ChangeState, type ChangeType } from './change-rules';

type Problem = { path: string; message: string };

/** What a requester writes; every field is optional on PATCH. */
export interface ChangeInput {
  title?: string;
  description?: string;
  justification?: string;
  type?: ChangeType;
  standardChange?: string;
  vendor?: string | null;
  implementers?: string[];
  clients?: string[];
  services?: string[];
  cis?: string[];
  implementationPlan?: string;
  testPlan?: string;
  testResults?: string;
  backoutPlan?: string;
  communicationPlan?: string;
  expectedImpact?: string;
  alertsDuringWindow?: 'hold' | 'page';
  window?: { start: string; end: string } | null;
  risk?: RiskAnswers | null;
}

export interface ChangeListQuery {
  state?: ChangeState[];
  type?: ChangeType[];
  client?: string;
  ci?: string;
  /** Only changes whose post-implementation review is still owed (IMP-06, CHG-08). */
  reviewPending?: boolean;
  limit: number;
  offset: number;
}

/** Fields recorded in the audit trail before and after each change (CHG-01). */
export function changeSnapshot(change: ChangeRequest) {
  return {
    state: change.state,
    type: change.type,
    title: change.title,
    outcome: change.outcome,
    riskLevel: change.riskLevel,
    riskScore: change.riskScore,
    windowStart: change.windowStart?.toISOString() ?? null,
    windowEnd: change.windowEnd?.toISOString() ?? null,
    approvedWindowStart: change.approvedWindowStart?.toISOString() ?? null,
    approvedWindowEnd: change.approvedWindowEnd?.toISOString() ?? null,
    clientIds: change.clientIds,
    serviceIds: change.serviceIds,
    ciIds: change.ciIds,
    implementers: change.implementers,
    approvalRound: change.approvalRound,
    conditions: change.conditions,
    scheduleException: change.scheduleException,
    overrun: change.overrun,
    pirRequired: change.pirRequired,
    pirCompletedAt: change.pirCompletedAt?.toISOString() ?? null,
  };
}

/** A step of a change's life: what the audit row says happened. */
export interface ChangeStep {
  action: string;
  note?: string;
}

/** Another feature's part of a state change (e.g. correlation releasing alerts held during it); `from` is the state before. */
export type TransitionHook = (em: EntityManager, change: ChangeRequest, from: ChangeState, now: Date) => Promise<void> | void;

export type ChangeCore = ReturnType<typeof createChangeCore>;

/**
 * The RFC record (CHG-01, CHG-03): create, edit while allowed, read, and `mutate`, the one
 * path every workflow action takes (load, version check, change, audit, commit). The
 * workflow actions live in change-workflow.ts, approvals in change-approvals.ts.
 */
export function createChangeCore(deps: { orm: MikroORM; clock: Clock; audit: AuditService; configStore: ConfigStore }) {
  const { orm, clock, audit, configStore } = deps;

  function canSee(principal: Principal, change: ChangeRequest): boolean {
    return !isClientContact(principal) || (principal.clientId !== null && change.clientIds.includes(principal.clientId));
  }

  /** The change, if the principal may see it; `lock` (inside a transaction) holds its row until commit. */
  async function load(em: EntityManager, idText: string, principal: Principal | null, lock = false): Promise<ChangeRequest> {
    const number = parseChangeId(idText);
    const change = number === undefined ? null : await em.findOne(ChangeRequestSchema, { number }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
    if (!change || (principal && !canSee(principal, change))) throw new NotFoundError(`no change ${idText}`);
    return change;
  }

  /** Clients, services and CIs must exist and belong together; implementers must be active implementers. */
  async function checkReferences(em: EntityManager, input: ChangeInput, problems: Problem[]): Promise<string[] | undefined> {
    const index = catalogIndex(configStore.current);
    const clients = new Set(input.clients ?? []);
    input.clients?.forEach((id, i) => !index.clients.has(id) && problems.push({ path: `clients.${i}`, message: `unknown client "${id}"` }));
    input.services?.forEach((id, i) => !clients.has(index.services.get(id)?.client ?? '') && problems.push({ path: `services.${i}`, message: `no service "${id}" of the affected clients` }));
    input.cis?.forEach((id, i) => !clients.has(index.cis.get(id)?.client ?? '') && problems.push({ path: `cis.${i}`, message: `no configuration item "${id}" of the affected clients` }));
    if (input.window && Date.parse(input.window.end) <= Date.parse(input.window.start)) problems.push({ path: 'window.end', message: 'the window must end after it starts' });
    if (input.window) problems.push(...implausibleInstants(clock.now(), 'planned', { 'window.start': input.window.start, 'window.end': input.window.end }));
    if (!input.implementers) return undefined;
    const emails: string[] = [];
    for (const [i, reference] of input.implementers.entries()) {
      const user = /^\d+$/.test(reference) ? await em.findOne(UserSchema, { id: Number(reference) }) : await em.findOne(UserSchema, { email: reference.toLowerCase() });
      const holdsRole = user && !user.disabledAt
        ? (await em.getConnection().execute<{ count: string }[]>("select count(*) from role_grant where user_id = ? and role in ('implementer', 'admin') and revoked_at is null", [user.id], 'all', em.getTransactionContext()))[0]!.count !== '0'
        : false;
      if (!holdsRole) problems.push({ path: `implementers.${i}`, message: `no active user "${reference}" with the implementer role` });
      else emails.push(user!.email);
    }
    return emails;
  }

  /** Score and level from the answers, the catalog and how earlier changes on the same CIs went. */
  async function applyRisk(em: EntityManager, change: ChangeRequest): Promise<void> {
    if (!change.riskAnswers) {
      change.riskScore = null;
      change.riskLevel = null;
      change.riskFactors = null;
      return;
    }
    const config = configStore.current;
    const index = catalogIndex(config);
    const similar = { ciIds: { $overlap: change.ciIds }, outcome: { $ne: null }, ...(change.id ? { id: { $ne: change.id } } : {}) };
    // One after the other: inside a transaction both counts share one connection.
    const completed = change.ciIds.length ? await em.count(ChangeRequestSchema, similar) : 0;
    const failed = change.ciIds.length ? await em.count(ChangeRequestSchema, { ...similar, outcome: { $in: ['failed', 'backed_out'] } }) : 0;
    const assessment = assessRisk(change.riskAnswers as RiskAnswers, {
      cis: change.ciIds.map((id) => index.cis.get(id)).filter((ci) => ci !== undefined),
      dependentCount: dependentsOf(change.ciIds, config.configurationItems).length,
      history: { completed, failed },
    });
    change.riskScore = assessment.score;
    change.riskLevel = assessment.level;
    change.riskFactors = assessment.factors;
  }

  /** Copies the given fields onto the change; a template fills in what the requester left out. */
  function applyInput(change: ChangeRequest, input: ChangeInput, implementers: string[] | undefined, template: StandardChangeConfig | undefined) {
    const text = ['title', 'description', 'justification', 'implementationPlan', 'testPlan', 'testResults', 'backoutPlan', 'communicationPlan', 'expectedImpact'] as const;
    for (const field of text) if (input[field] !== undefined) change[field] = input[field]!;
    if (input.type !== undefined) change.type = input.type;
    if (input.alertsDuringWindow !== undefined) change.alertsDuringWindow = input.alertsDuringWindow;
    if (input.vendor !== undefined) change.vendor = input.vendor;
    if (input.clients !== undefined) change.clientIds = input.clients;
    if (input.services !== undefined) change.serviceIds = input.services;
    if (input.cis !== undefined) change.ciIds = input.cis;
    if (implementers !== undefined) change.implementers = implementers;
    if (input.window !== undefined) {
      change.windowStart = input.window ? new Date(input.window.start) : null;
      change.windowEnd = input.window ? new Date(input.window.end) : null;
    }
    if (input.risk !== undefined) change.riskAnswers = input.risk;
    if (template) {
      change.type = 'standard';
      change.standardChangeId = template.id;
      change.implementationPlan ||= template.procedure;
      change.backoutPlan ||= template.backoutPlan;
      change.testPlan ||= template.testPlan;
      change.description ||= template.description;
    }
  }

  function templateFor(input: ChangeInput, problems: Problem[]): StandardChangeConfig | undefined {
    if (input.standardChange === undefined) return undefined;
    const template = configStore.current.standardChanges.find((candidate) => candidate.id === input.standardChange);
    if (!template) problems.push({ path: 'standardChange', message: `no standard change "${input.standardChange}" in the catalog` });
    return template;
  }

  /**
   * Runs one action: load (with visibility, locking the change's row), check the expected
   * version, change, audit, commit. Concurrent actions on one change run one after the other.
   */
  const listeners: ((change: ChangeRequest) => void)[] = [];
  const transitionHooks: TransitionHook[] = [];

  async function mutate(
    idText: string,
    principal: Principal | null,
    actor: Actor,
    options: { expectedVersion?: number; requestId?: string },
    change: (target: ChangeRequest, em: EntityManager, now: Date) => Promise<ChangeStep> | ChangeStep,
  ): Promise<ChangeRequest> {
    try {
      const changed = await orm.em.fork().transactional(async (em) => {
        // The row lock serializes actions on one change: two last approvals, approval and cancel, ...
        const target = await load(em, idText, principal, true);
        if (options.expectedVersion !== undefined && options.expectedVersion !== target.version) {
          throw new ConflictError(`the change was modified since you loaded it (version ${target.version}, you had ${options.expectedVersion}); reload and try again`, { current: target.version });
        }
        const before = changeSnapshot(target);
        const now = clock.now();
        const step = await change(target, em, now);
        for (const hook of transitionHooks) if (target.state !== before.state) await hook(em, target, before.state as ChangeState, now);
        target.updatedAt = now;
        audit.record(em, { actor, action: step.action, entityType: 'change', entityId: formatChangeId(target.number), clientId: target.clientIds[0] ?? null, before, after: { ...changeSnapshot(target), ...(step.note ? { note: step.note } : {}) }, requestId: options.requestId });
        await em.flush();
        return target;
      });
      for (const listener of listeners) listener(changed);
      return changed;
    } catch (error) {
      if (error instanceof OptimisticLockError) throw new ConflictError('someone else changed the change at the same moment; reload and try again');
      throw error;
    }
  }

  /** Moves the change, or answers 409 with the reason. */
  function moveTo(change: ChangeRequest, to: ChangeState): void {
    const problem = transitionProblem(change.state as ChangeState, to);
    if (problem) throw new ConflictError(problem, { from: change.state, to });
    change.state = to;
  }

  /** The requester, or a change manager, may edit, submit and cancel an RFC. */
  function requireOwnerOrManager(change: ChangeRequest, principal: Principal, what: string): void {
    if (change.requesterId !== principal.userId && !hasAnyRole(principal, ['change_manager', 'admin'])) {
      throw new ForbiddenError(`only the requester or a change manager may ${what} ${formatChangeId(change.number)}`);
    }
  }

  return {
    load,
    mutate,
    /** Called after every committed change of an RFC (for live views such as the status page). */
    onChanged(listener: (change: ChangeRequest) => void): void {
      listeners.push(listener);
    },
    /** Called inside the transaction of every state change of an RFC: what other features write there commits with it. */
    onTransition(hook: TransitionHook): void {
      transitionHooks.push(hook);
    },
    moveTo,
    applyRisk,
    requireOwnerOrManager,
    canSee,

    async create(input: ChangeInput & { title: string; type: ChangeType }, principal: Principal, actor: Actor, requestId?: string): Promise<ChangeRequest> {
      return orm.em.fork().transactional(async (em) => {
        const problems: Problem[] = [];
        const template = templateFor(input, problems);
        const implementers = await checkReferences(em, input, problems);
        if (problems.length) throw new ValidationError('invalid change', problems);
        const now = clock.now();
        const [{ nextval }] = await em.getConnection().execute<{ nextval: string }[]>("select nextval('change_number_seq')", [], 'all', em.getTransactionContext());
        const change = em.create(ChangeRequestSchema, {
          number: Number(nextval),
          title: input.title,
          type: input.type,
          state: 'draft',
          requesterId: principal.userId,
          requesterEmail: principal.email.toLowerCase(),
          createdAt: now,
          updatedAt: now,
        });
        applyInput(change, input, implementers, template);
        await applyRisk(em, change);
        await em.flush();
        audit.record(em, { actor, action: 'change.created', entityType: 'change', entityId: formatChangeId(change.number), clientId: change.clientIds[0] ?? null, after: changeSnapshot(change), requestId });
        return change;
      });
    },

    update(idText: string, input: ChangeInput, principal: Principal, actor: Actor, options: { expectedVersion?: number; requestId?: string }) {
      return mutate(idText, principal, actor, options, async (change, em) => {
        requireOwnerOrManager(change, principal, 'edit');
        // After approval the plan is fixed; only the non-production test results may still be recorded (IMP-02).
        const resultsOnly = Object.keys(input).every((key) => key === 'testResults') && ['approved', 'scheduled'].includes(change.state);
        if (!EDITABLE_STATES.includes(change.state as ChangeState) && !resultsOnly) {
          throw new ConflictError(`a ${change.state} change can no longer be edited (only testResults after approval, until it starts); cancel it and raise a new one`);
        }
        // The type and catalog entry decide the approval path; they are fixed once submitted.
        if (change.state !== 'draft' && (input.type !== undefined || input.standardChange !== undefined)) {
          throw new ConflictError(`the type and standardChange of ${formatChangeId(change.number)} are fixed once it has been submitted; cancel it and raise a new one`);
        }
        const problems: Problem[] = [];
        const template = templateFor(input, problems);
        // References are checked against the clients the change will have after the edit.
        const implementers = await checkReferences(em, { ...input, clients: input.clients ?? change.clientIds, services: input.services ?? (input.clients ? change.serviceIds : undefined), cis: input.cis ?? (input.clients ? change.ciIds : undefined) }, problems);
        if (problems.length) throw new ValidationError('invalid change', problems);
        applyInput(change, input, implementers, template);
        await applyRisk(em, change);
        return { action: 'change.edited', note: `edited: ${Object.keys(input).join(', ')}` };
      });
    },

    async get(idText: string, principal: Principal) {
      const em = orm.em.fork();
      const change = await load(em, idText, principal);
      return { change, em };
    },

    async list(query: ChangeListQuery, principal: Principal) {
      const em = orm.em.fork();
      const where: Record<string, unknown> = {};
      if (isClientContact(principal)) where.clientIds = { $contains: [principal.clientId ?? '__none__'] };
      if (query.client) where.clientIds = isClientContact(principal) && query.client !== principal.clientId ? { $contains: ['__none__'] } : { $contains: [query.client] };
      if (query.state?.length) where.state = { $in: query.state };
      if (query.type?.length) where.type = { $in: query.type };
      if (query.ci) where.ciIds = { $contains: [query.ci] };
      if (query.reviewPending) Object.assign(where, { pirRequired: true, pirCompletedAt: null, state: { $ne: 'cancelled' } });
      return em.findAndCount(ChangeRequestSchema, where, { orderBy: { id: 'desc' }, limit: query.limit, offset: query.offset });
    },
  };
}
