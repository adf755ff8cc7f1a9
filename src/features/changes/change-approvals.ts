import { createHash } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors';
import type { LinkSigner } from '../../platform/security/signed-links';
import { SYSTEM_ACTOR, type Actor, type AuditService } from '../audit/audit-service';
import type { Principal } from '../auth/principal';
import type { TimerEngine } from '../timers/timer-engine';
import { canDecideFor, clientApprovers, describeGroup, requesterManager, requiredApprovals, segregationProblem, type Decider } from './change-approval-rules';
import { ChangeApprovalSchema, ChangeRequestSchema, type ChangeApproval, type ChangeRequest } from './change-entities';
import { usersWithRole } from '../users/users-with-role';
import type { ChangeNotices } from './change-notices';
import { formatChangeId, type ChangeType, type RiskLevel } from './change-rules';
import type { Window } from './change-scheduling';
import { changeSnapshot, type ChangeCore } from './change-service';
import { catalogIndex } from '../catalog/catalog-index';

export const DECISIONS = ['approve', 'reject', 'defer'] as const;
export type Decision = (typeof DECISIONS)[number];

export interface DecisionInput {
  decision: Decision;
  rationale: string;
  conditions?: string;
  /** Which approval, when the person may decide for several groups. */
  group?: string;
}

const LINK_PURPOSE = 'change-approval';
export const ECAB_TIMER = 'change.ecab_escalation';

const emailDigest = (email: string) => createHash('sha256').update(email.toLowerCase()).digest('base64url').slice(0, 16);

export type ChangeApprovals = ReturnType<typeof createChangeApprovals>;

/**
 * Approvals (CHG-06..09): which groups must approve, requests to them (client approvers get
 * a signed one-time link), decisions with rationale under segregation of duties, and the
 * emergency CAB's response-time escalation.
 */
export function createChangeApprovals(deps: {
  orm: MikroORM;
  clock: Clock;
  audit: AuditService;
  configStore: ConfigStore;
  core: ChangeCore;
  notices: ChangeNotices;
  timers: TimerEngine;
  signer: LinkSigner;
}) {
  const { orm, clock, audit, configStore, core, notices, timers, signer } = deps;

  async function membersOf(em: EntityManager, group: string): Promise<string[]> {
    const config = configStore.current;
    const [kind, id] = group.split(':', 2);
    if (kind === 'change_manager') return usersWithRole(em, 'change_manager');
    if (kind === 'cab') return usersWithRole(em, 'cab_member');
    if (kind === 'team') return config.teams.find((team) => team.id === id)?.members ?? [];
    if (kind === 'ecab') return config.cab.ecab.members;
    if (kind === 'requester_manager') return [id!];
    return [];
  }

  /**
   * Opens a new approval round in the caller's transaction: one row per required group,
   * a request to each group's members. A standard change's catalog approval is given at once.
   * `previousWindow`: the round is asked again because the change moved out of the window
   * approved before; the requests say so.
   */
  async function requestApprovals(em: EntityManager, change: ChangeRequest, now: Date, context: { previousWindow?: Window } = {}): Promise<ChangeApproval[]> {
    const config = configStore.current;
    const index = catalogIndex(config);
    change.approvalRound += 1;
    const required = requiredApprovals(
      {
        type: change.type as ChangeType,
        riskLevel: change.riskLevel as RiskLevel | null,
        standardChangeId: change.standardChangeId,
        cis: change.ciIds.map((id) => index.cis.get(id)).filter((ci) => ci !== undefined),
        clients: change.clientIds.map((id) => index.clients.get(id)).filter((client) => client !== undefined),
        requesterManager: requesterManager(config, change.requesterEmail),
      },
      config.changeApproval.rules,
    );
    // A normal change always needs someone's approval, whatever the rules say.
    if (required.length === 0) required.push({ group: 'change_manager', reason: 'no rule matched; the change manager decides' });
    const rows: ChangeApproval[] = [];
    for (const { group, reason } of required) {
      const preApproved = group === 'catalog';
      const row = em.create(ChangeApprovalSchema, {
        change,
        round: change.approvalRound,
        approverGroup: group,
        reason,
        status: preApproved ? 'approved' : 'pending',
        requestedAt: now,
        decidedAt: preApproved ? now : null,
        decidedBy: preApproved ? 'standard change catalog' : null,
        rationale: preApproved ? reason : null,
      });
      rows.push(row);
    }
    await em.flush();
    for (const row of rows) {
      if (row.status !== 'pending') continue;
      if (row.approverGroup.startsWith('client:')) await sendClientLinks(em, change, row, now, context.previousWindow);
      else {
        await notices.approvalRequestToStaff(em, config, change, {
          approvalId: row.id,
          recipients: await membersOf(em, row.approverGroup),
          group: describeGroup(row.approverGroup),
          reason: row.reason,
          previousWindow: context.previousWindow,
        });
      }
      if (row.approverGroup === 'ecab') {
        const target = parseDuration(config.cab.ecab.responseTarget) ?? 3_600_000;
        timers.schedule(em, { kind: ECAB_TIMER, incidentId: null, dueAt: new Date(now.getTime() + target), payload: { changeId: change.id, approvalId: row.id } });
      }
    }
    return rows;
  }

  async function sendClientLinks(em: EntityManager, change: ChangeRequest, row: ChangeApproval, now: Date, previousWindow: Window | undefined): Promise<void> {
    const config = configStore.current;
    const clientId = row.approverGroup.slice('client:'.length);
    const expiresAt = new Date(now.getTime() + (parseDuration(config.changeApproval.clientLinkValidity) ?? 14 * 86_400_000));
    for (const email of clientApprovers(config, clientId)) {
      const token = signer.sign(LINK_PURPOSE, `${row.id}-${emailDigest(email)}`, expiresAt);
      await notices.approvalLink(em, config, change, { approvalId: row.id, clientId, email, link: `${config.server.publicUrl}/changes/approvals/${token}`, expiresAt, previousWindow });
    }
  }

  /**
   * The change moved out of the window its approvals were given for: they no longer cover
   * it. The current round's approvals are marked withdrawn (who decided what and why stays on
   * the rows); a pending one is superseded. Returns the withdrawn approvals.
   */
  async function withdrawApprovals(em: EntityManager, change: ChangeRequest): Promise<ChangeApproval[]> {
    const round = await em.find(ChangeApprovalSchema, { change, round: change.approvalRound }, { orderBy: { id: 'asc' } });
    const withdrawn: ChangeApproval[] = [];
    for (const row of round) {
      if (row.status === 'approved' || row.status === 'approved_with_conditions') {
        row.status = 'withdrawn';
        withdrawn.push(row);
      } else if (row.status === 'pending') row.status = 'superseded';
    }
    change.approvedAt = null;
    change.approvedWindowStart = null;
    change.approvedWindowEnd = null;
    return withdrawn;
  }

  /** Records one decision; the change follows: one rejection rejects, one deferral defers, all approvals approve. */
  async function decideInTransaction(em: EntityManager, change: ChangeRequest, decider: Decider, input: DecisionInput, now: Date, onlyApproval?: ChangeApproval): Promise<string> {
    if (change.state !== 'awaiting_approval') throw new ConflictError(`${formatChangeId(change.number)} is ${change.state}, not awaiting approval`);
    const sod = segregationProblem(change, decider.email);
    if (sod) throw new ForbiddenError(sod);
    const config = configStore.current;
    const round = await em.find(ChangeApprovalSchema, { change, round: change.approvalRound }, { orderBy: { id: 'asc' } });
    // Each required approval is a separate pair of eyes: whoever holds several approving roles still decides once per round.
    const already = round.find((row) => row.status !== 'pending' && row.decidedBy === decider.email.toLowerCase());
    if (already) throw new ForbiddenError(`you already decided for the ${describeGroup(already.approverGroup)} in this approval round of ${formatChangeId(change.number)}; each required approval needs a different person`);
    const pending = round.filter((row) => row.status === 'pending');
    let mine = pending.filter((row) => (onlyApproval ? row.id === onlyApproval.id : canDecideFor(row.approverGroup, decider, config)));
    if (input.group) mine = mine.filter((row) => row.approverGroup === input.group);
    if (mine.length === 0) {
      throw new ForbiddenError(`you are not an approver for any pending approval of ${formatChangeId(change.number)} (pending: ${pending.map((row) => describeGroup(row.approverGroup)).join(', ') || 'none'})`);
    }
    if (mine.length > 1) throw new ValidationError('you may decide for several approver groups; say which', [{ path: 'group', message: `one of: ${mine.map((row) => row.approverGroup).join(', ')}` }]);
    const row = mine[0]!;
    const conditions = input.conditions?.trim() || null;
    row.status = input.decision === 'approve' ? (conditions ? 'approved_with_conditions' : 'approved') : input.decision === 'reject' ? 'rejected' : 'deferred';
    row.decidedAt = now;
    row.decidedBy = decider.email.toLowerCase();
    row.rationale = input.rationale.trim();
    row.conditions = conditions;
    if (conditions) change.conditions = [change.conditions, `${describeGroup(row.approverGroup)}: ${conditions}`].filter(Boolean).join('\n');
    const rest = pending.filter((other) => other.id !== row.id);
    if (input.decision !== 'approve') {
      core.moveTo(change, input.decision === 'reject' ? 'rejected' : 'deferred');
      for (const other of rest) other.status = 'superseded';
      // Clients told of it (a time, or "on hold" after a move) hear that it will not take place as told.
      const told = input.decision === 'reject' ? await notices.lastToldClients(em, change) : null;
      if (told && told !== 'cancelled') await notices.toClients(em, config, change, 'cancelled', { reason: 'The change was not approved.' });
    } else if (rest.length === 0) {
      core.moveTo(change, 'approved');
      change.approvedAt = now;
      // What the approvers saw; moving the change out of it asks them again (IMP-01).
      change.approvedWindowStart = change.windowStart;
      change.approvedWindowEnd = change.windowEnd;
      // COM-01: clients hear of an emergency change as soon as it is approved; there is no notice period to wait for.
      if (change.type === 'emergency') await notices.toClients(em, config, change, 'emergency');
    }
    await notices.toStaff(em, change, {
      kind: 'change.decision',
      recipients: [change.requesterEmail, ...change.implementers],
      subject: `${describeGroup(row.approverGroup)} ${row.status.replace(/_/g, ' ')} (change is now ${change.state})`,
      body: `Decision by ${row.decidedBy}: ${row.status.replace(/_/g, ' ')}.\nRationale: ${row.rationale}${conditions ? `\nConditions: ${conditions}` : ''}`,
      eventKey: `decision:${row.id}`,
    });
    return `${describeGroup(row.approverGroup)}: ${row.status} by ${row.decidedBy}: ${row.rationale}`;
  }

  /** A link is open while its approval is pending in the change's current round and nobody has used it. */
  function linkOpen(approval: ChangeApproval, change: ChangeRequest): boolean {
    return approval.status === 'pending' && approval.linkUsedAt === null && approval.round === change.approvalRound && change.state === 'awaiting_approval';
  }

  /**
   * Finds the approval and contact an open link was made for. Anything else (tampered,
   * expired, used, decided, of an earlier round) answers the same 404, revealing nothing.
   */
  async function resolveLink(em: EntityManager, token: string) {
    const check = signer.verify(LINK_PURPOSE, token);
    if (!check.ok) throw new NotFoundError('this link is not valid');
    const [, approvalId, digest] = /^(\d+)-(.+)$/.exec(check.subject) ?? [];
    const approval = approvalId ? await em.findOne(ChangeApprovalSchema, { id: Number(approvalId) }, { populate: ['change'] }) : null;
    const clientId = approval?.approverGroup.startsWith('client:') ? approval.approverGroup.slice('client:'.length) : undefined;
    const email = clientId ? clientApprovers(configStore.current, clientId).find((candidate) => emailDigest(candidate) === digest) : undefined;
    const change = approval?.change as unknown as ChangeRequest | undefined;
    if (!approval || !change || !clientId || !email || !linkOpen(approval, change)) throw new NotFoundError('this link is not valid');
    return { approval, change, clientId, email };
  }

  return {
    requestApprovals,
    withdrawApprovals,

    decide(idText: string, principal: Principal, actor: Actor, input: DecisionInput & { expectedVersion?: number; requestId?: string }) {
      return core.mutate(idText, principal, actor, input, async (change, em, now) => {
        const note = await decideInTransaction(em, change, { email: principal.email, roles: principal.roles, clientId: principal.clientId }, input, now);
        return { action: `change.${input.decision}`, note };
      });
    },

    /** Used by CAB meetings: the same decision, for the CAB group, inside the caller's transaction. */
    decideInTransaction,

    /** What a client approver sees when opening an open link (GET never decides: mail scanners prefetch links). */
    async viewLink(token: string) {
      const { change, clientId, email } = await resolveLink(orm.em.fork(), token);
      return { change, clientId, email };
    },

    /** A client approver's decision from the e-mailed link: one-time use, recorded on the approval. */
    async decideByLink(token: string, input: DecisionInput) {
      return orm.em.fork().transactional(async (em) => {
        const { approval, change, clientId, email } = await resolveLink(em, token);
        // Lock the change's row, then read it and this approval again: a concurrent decision may have just committed.
        await em.findOne(ChangeRequestSchema, { id: change.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
        await em.refresh(approval);
        if (!linkOpen(approval, change)) throw new NotFoundError('this link is not valid');
        const before = changeSnapshot(change);
        const now = clock.now();
        const note = await decideInTransaction(em, change, { email, roles: ['client_contact'], clientId }, { ...input, group: undefined }, now, approval);
        approval.linkUsedAt = now;
        change.updatedAt = now;
        audit.record(em, { actor: { type: 'user', id: null, name: email }, action: `change.${input.decision}`, entityType: 'change', entityId: formatChangeId(change.number), clientId, before, after: { ...changeSnapshot(change), note: `${note} (signed e-mail link)` } });
        await em.flush();
        return change;
      });
    },

    /** The emergency CAB missed its response target: tell the escalation contacts and change managers (CHG-08). */
    async escalateEcab(em: EntityManager, payload: { changeId: number; approvalId: number }, now: Date): Promise<void> {
      const approval = await em.findOne(ChangeApprovalSchema, { id: payload.approvalId });
      const change = await em.findOne(ChangeRequestSchema, { id: payload.changeId });
      if (!approval || !change || approval.status !== 'pending' || change.state !== 'awaiting_approval') return;
      const config = configStore.current;
      const recipients = [...config.cab.ecab.escalateTo, ...config.cab.ecab.members, ...(await usersWithRole(em, 'change_manager'))];
      await notices.toStaff(em, change, {
        kind: 'change.ecab_escalation',
        recipients,
        subject: `ESCALATION: emergency change waiting for ECAB beyond ${config.cab.ecab.responseTarget}`,
        body: `Emergency change "${change.title}" has waited since ${approval.requestedAt.toISOString()} for an emergency CAB decision (target ${config.cab.ecab.responseTarget}).`,
        eventKey: `ecab-escalation:${approval.id}`,
      });
      audit.record(em, { actor: SYSTEM_ACTOR, action: 'change.ecab_escalated', entityType: 'change', entityId: formatChangeId(change.number), clientId: change.clientIds[0] ?? null, after: { ...changeSnapshot(change), note: `no ECAB decision within ${config.cab.ecab.responseTarget}; escalated to ${recipients.join(', ')}`, at: now.toISOString() } });
    },
  };
}
