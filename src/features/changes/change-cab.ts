import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { Clock } from '../../platform/clock';
import { ConflictError, NotFoundError } from '../../platform/errors';
import { requirePlausibleInstants } from '../../platform/plausible-time';
import type { ApiRouter } from '../../platform/http/api-router';
import { markdownLine } from '../../platform/markdown';
import type { Role } from '../auth/roles';
import { DECISIONS, type ChangeApprovals } from './change-approvals';
import { CabAgendaItemSchema, CabMeetingSchema, ChangeApprovalSchema, type CabAgendaItem, type CabMeeting, type ChangeRequest } from './change-entities';
import { formatChangeId } from './change-rules';
import type { ChangeCore } from './change-service';

const ORGANIZERS: readonly Role[] = ['change_manager', 'admin'];
const READERS: readonly Role[] = ['change_manager', 'cab_member', 'admin'];
const MEMBERS: readonly Role[] = ['cab_member'];
/** Changes significant enough for the board (CHG-09); low-risk ones are left to the change manager. */
const AGENDA_RISKS = ['medium', 'high'];

const iso = (at: Date | null | undefined) => at?.toISOString() ?? null;
const changeOf = (item: CabAgendaItem) => item.change as unknown as ChangeRequest;
/** One line of user text in the Markdown minutes (it is evidence, not markup). */
const line = markdownLine;

function presentItem(item: CabAgendaItem) {
  const change = changeOf(item);
  return {
    id: item.id,
    position: item.position,
    change: {
      id: formatChangeId(change.number),
      title: change.title,
      type: change.type,
      state: change.state,
      risk: change.riskLevel,
      riskScore: change.riskScore,
      clients: change.clientIds,
      cis: change.ciIds,
      requester: change.requesterEmail,
      window: change.windowStart && change.windowEnd ? { start: iso(change.windowStart), end: iso(change.windowEnd) } : null,
    },
    decision: item.decision,
    rationale: item.rationale,
    conditions: item.conditions,
    decidedBy: item.decidedBy,
    decidedAt: iso(item.decidedAt),
  };
}

function presentMeeting(meeting: CabMeeting, items: CabAgendaItem[]) {
  return {
    id: meeting.id,
    title: meeting.title,
    scheduledFor: iso(meeting.scheduledFor),
    createdBy: meeting.createdBy,
    createdAt: iso(meeting.createdAt),
    notes: meeting.notes,
    attendees: meeting.attendees,
    agenda: items.map(presentItem),
  };
}

/** The minutes as Markdown: who attended, and per agenda item what was decided, by whom and why (CHG-09, ACC-02). */
export function renderMinutes(meeting: CabMeeting, items: CabAgendaItem[]): string {
  const out = [
    `# CAB minutes: ${line(meeting.title)}`,
    '',
    `- Meeting: ${meeting.id}, ${meeting.scheduledFor.toISOString()}`,
    `- Called by: ${meeting.createdBy}`,
    `- Attendees: ${meeting.attendees.length ? meeting.attendees.join(', ') : 'none recorded'}`,
    ...(meeting.notes ? [`- Notes: ${line(meeting.notes)}`] : []),
    '',
    '## Agenda and decisions',
  ];
  if (items.length === 0) out.push('', 'No changes were awaiting the board.');
  for (const item of items) {
    const change = changeOf(item);
    out.push(
      '',
      `### ${item.position}. ${formatChangeId(change.number)}: ${line(change.title)}`,
      '',
      `- Type: ${change.type}; risk: ${change.riskLevel ?? 'not assessed'} (score ${change.riskScore ?? '-'})`,
      `- Clients: ${change.clientIds.join(', ') || '-'}; CIs: ${change.ciIds.join(', ') || '-'}`,
      `- Window: ${change.windowStart && change.windowEnd ? `${change.windowStart.toISOString()} - ${change.windowEnd.toISOString()}` : 'not set'}`,
      `- Requested by: ${change.requesterEmail}`,
    );
    if (!item.decision) out.push('- Decision: not decided in this meeting');
    else {
      out.push(`- Decision: ${item.decision.replace(/_/g, ' ')} by ${item.decidedBy} at ${item.decidedAt!.toISOString()}`, `- Rationale: ${line(item.rationale)}`);
      if (item.conditions) out.push(`- Conditions: ${line(item.conditions)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

const meetingBody = z.object({
  title: z.string().trim().min(3).max(200).default('Change advisory board'),
  scheduledFor: z.iso.datetime({ offset: true }).describe('when the board meets, ISO 8601 with offset'),
  attendees: z.array(z.email()).max(50).default([]).describe('e-mails of those present; members who decide an item are added'),
  notes: z.string().max(20_000).default(''),
});
const decisionBody = z.object({
  decision: z.enum(DECISIONS),
  rationale: z.string().trim().min(3).max(5000).describe('why; recorded with the decision and in the minutes'),
  conditions: z.string().max(5000).optional().describe('approve with conditions'),
});

/**
 * CAB meetings (CHG-09): the agenda is every normal change of medium or high risk waiting
 * for the board's approval; members decide per item through the same approval path as the
 * API (segregation of duties included); the minutes are exported as Markdown.
 */
export function registerCabRoutes(api: ApiRouter, deps: { orm: MikroORM; clock: Clock; core: ChangeCore; approvals: ChangeApprovals }) {
  const { orm, clock, core, approvals } = deps;

  async function loadMeeting(em: EntityManager, idText: string) {
    const meeting = /^\d+$/.test(idText) ? await em.findOne(CabMeetingSchema, { id: Number(idText) }) : null;
    if (!meeting) throw new NotFoundError(`no CAB meeting ${idText}`);
    const items = await em.find(CabAgendaItemSchema, { meeting }, { populate: ['change'], orderBy: { position: 'asc' } });
    return { meeting, items };
  }

  /** Changes whose CAB approval of the current round is still pending, earliest window first. */
  async function pendingForBoard(em: EntityManager): Promise<ChangeRequest[]> {
    const rows = await em.find(
      ChangeApprovalSchema,
      { approverGroup: 'cab', status: 'pending', change: { state: 'awaiting_approval', type: 'normal', riskLevel: { $in: AGENDA_RISKS } } },
      { populate: ['change'] },
    );
    const changes = rows.filter((row) => row.round === (row.change as unknown as ChangeRequest).approvalRound).map((row) => row.change as unknown as ChangeRequest);
    return changes.sort((a, b) => (a.windowStart?.getTime() ?? Infinity) - (b.windowStart?.getTime() ?? Infinity) || a.number - b.number);
  }

  api.post('/cab/meetings', { access: { roles: ORGANIZERS }, summary: 'Call a CAB meeting (CHG-09); its agenda is built from the normal changes of medium/high risk awaiting the board', body: meetingBody }, async ({ body, principal, res }) =>
    orm.em.fork().transactional(async (em) => {
      requirePlausibleInstants(clock.now(), 'planned', { scheduledFor: body.scheduledFor });
      const meeting = em.create(CabMeetingSchema, { title: body.title, scheduledFor: new Date(body.scheduledFor), createdBy: principal.email, createdAt: clock.now(), notes: body.notes, attendees: body.attendees.map((email) => email.toLowerCase()) });
      const items = (await pendingForBoard(em)).map((change, i) => em.create(CabAgendaItemSchema, { meeting, change, position: i + 1 }));
      await em.flush();
      res.status(201).setHeader('Location', `/api/v1/cab/meetings/${meeting.id}`);
      return presentMeeting(meeting, items);
    }),
  );

  api.get('/cab/meetings', { access: { roles: READERS }, summary: 'CAB meetings, latest first' }, async ({ em }) => {
    const meetings = await em.find(CabMeetingSchema, {}, { orderBy: { scheduledFor: 'desc' }, limit: 100 });
    return { items: meetings.map((meeting) => presentMeeting(meeting, [])).map(({ agenda: _agenda, ...meeting }) => meeting) };
  });

  api.get('/cab/meetings/:id', { access: { roles: READERS }, summary: 'A CAB meeting with its agenda and decisions' }, async ({ em, params }) => {
    const { meeting, items } = await loadMeeting(em, params.id!);
    return presentMeeting(meeting, items);
  });

  api.get('/cab/meetings/:id/minutes', { access: { roles: READERS }, summary: 'The minutes as Markdown (text/markdown): attendees, and per item the decision, who took it and the rationale' }, async ({ em, params, res }) => {
    const { meeting, items } = await loadMeeting(em, params.id!);
    res.type('text/markdown; charset=utf-8').setHeader('Content-Disposition', `attachment; filename="cab-minutes-${meeting.id}.md"`).send(renderMinutes(meeting, items));
  });

  api.post(
    '/cab/meetings/:id/items/:item/decision',
    { access: { roles: MEMBERS }, summary: "Record the board's decision on one agenda item with its rationale (CHG-09); the requester or an implementer of the change may not decide (403, CHG-07)", body: decisionBody },
    async ({ body, principal, actor, params, requestId }) => {
      const { meeting, items } = await loadMeeting(orm.em.fork(), params.id!);
      const listed = items.find((candidate) => String(candidate.id) === params.item);
      if (!listed) throw new NotFoundError(`no agenda item ${params.item} in CAB meeting ${meeting.id}`);
      await core.mutate(formatChangeId(changeOf(listed).number), principal, actor, { requestId }, async (change, em, now) => {
        const item = await em.findOneOrFail(CabAgendaItemSchema, { id: listed.id }, { populate: ['meeting'] });
        if (item.decision) throw new ConflictError(`item ${item.position} was already decided: ${item.decision.replace(/_/g, ' ')} by ${item.decidedBy}`);
        if (!(await em.count(ChangeApprovalSchema, { change, round: change.approvalRound, approverGroup: 'cab', status: 'pending' }))) {
          throw new ConflictError(`the board's approval of ${formatChangeId(change.number)} is no longer pending (the change is ${change.state})`);
        }
        const note = await approvals.decideInTransaction(em, change, { email: principal.email, roles: principal.roles, clientId: principal.clientId }, { ...body, group: 'cab' }, now);
        const conditions = body.conditions?.trim() || null;
        Object.assign(item, { decision: body.decision === 'approve' && conditions ? 'approve_with_conditions' : body.decision, rationale: body.rationale, conditions, decidedBy: principal.email.toLowerCase(), decidedAt: now });
        const board = item.meeting as unknown as CabMeeting;
        if (!board.attendees.includes(principal.email.toLowerCase())) board.attendees = [...board.attendees, principal.email.toLowerCase()];
        return { action: `change.${body.decision}`, note: `CAB meeting ${board.id} ("${board.title}"), item ${item.position}: ${note}` };
      });
      const { meeting: updated, items: agenda } = await loadMeeting(orm.em.fork(), params.id!);
      return presentMeeting(updated, agenda);
    },
  );
}
