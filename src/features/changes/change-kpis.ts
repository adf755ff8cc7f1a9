import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ValidationError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';

/** An incident this soon after a change's completion, on its CIs or services, counts against the change (REL-03). */
export const INCIDENT_WINDOW_HOURS = 72;

export interface KpiPeriod {
  from: Date;
  to: Date;
  clientId?: string;
}

type Row = Record<string, string | number | Date | null>;
const ratio = (part: number, whole: number) => (whole === 0 ? null : part / whole);
const hours = (seconds: unknown) => (seconds === null || seconds === undefined ? null : Number(seconds) / 3600);

async function one(em: EntityManager, sql: string, period: KpiPeriod, clientColumn: string | null): Promise<Row> {
  const byClient = period.clientId && clientColumn ? ` and ${clientColumn}` : '';
  const params: unknown[] = [period.from, period.to, ...(byClient ? [period.clientId] : [])];
  const rows = await em.getConnection().execute<Row[]>(sql.replace('/*client*/', byClient), params, 'all', em.getTransactionContext());
  return rows[0]!;
}

/** Changes completed in the period: how many succeeded, and how many were followed by an incident on their CIs or services. */
export async function completionStats(em: EntityManager, period: KpiPeriod) {
  const row = await one(
    em,
    `select count(*) as completed,
            count(*) filter (where outcome in ('successful', 'successful_with_issues')) as successful,
            count(*) filter (where exists (
              select 1 from incident i
              where (i.ci_ids && c.ci_ids or i.service_ids && c.service_ids)
                and i.reported_at >= c.completed_at and i.reported_at < c.completed_at + interval '${INCIDENT_WINDOW_HOURS} hours')) as followed,
            count(*) filter (where exists (select 1 from suspect_change s where s.change_id = c.id and s.status = 'confirmed')) as caused
       from change_request c where completed_at >= ? and completed_at < ? /*client*/`,
    period,
    '? = any(c.client_ids)',
  );
  const [completed, successful, followed, caused] = [Number(row.completed), Number(row.successful), Number(row.followed), Number(row.caused)];
  return {
    successRate: { completed, successful, rate: ratio(successful, completed) },
    // Two readings: any incident on the same CIs/services soon after, and causes confirmed by responders (change correlation).
    followedByIncidents: { completed, followed, rate: ratio(followed, completed), windowHours: INCIDENT_WINDOW_HOURS, confirmedCause: caused },
  };
}

/**
 * Trends by team (REL-03): per team (config `teams`), the changes its members implemented
 * and completed in the period, and how many succeeded. A change with implementers from
 * several teams counts for each.
 */
export async function teamStats(em: EntityManager, period: KpiPeriod, teams: { id: string; members: string[] }[]) {
  const rows = await em.getConnection().execute<{ implementers: string[]; outcome: string | null; type: string }[]>(
    `select implementers, outcome, type from change_request where completed_at >= ? and completed_at < ?${period.clientId ? ' and ? = any(client_ids)' : ''}`,
    [period.from, period.to, ...(period.clientId ? [period.clientId] : [])],
    'all',
    em.getTransactionContext(),
  );
  return teams
    .map((team) => {
      const members = new Set(team.members.map((member) => member.toLowerCase()));
      const own = rows.filter((row) => row.implementers.some((implementer) => members.has(implementer.toLowerCase())));
      const successful = own.filter((row) => row.outcome === 'successful' || row.outcome === 'successful_with_issues').length;
      return { team: team.id, completed: own.length, successful, successRate: ratio(successful, own.length), emergency: own.filter((row) => row.type === 'emergency').length };
    })
    .filter((line) => line.completed > 0);
}

/** Changes (last) submitted in the period: the emergency share and the rework (re-submitted after rejection or deferral). */
export async function submissionStats(em: EntityManager, period: KpiPeriod) {
  const row = await one(
    em,
    `select count(*) as submitted, count(*) filter (where type = 'emergency') as emergency, count(*) filter (where resubmissions > 0) as reworked
       from change_request where submitted_at >= ? and submitted_at < ? /*client*/`,
    period,
    '? = any(client_ids)',
  );
  const [submitted, emergency, reworked] = [Number(row.submitted), Number(row.emergency), Number(row.reworked)];
  return {
    emergencyChanges: { submitted, emergency, percentage: submitted === 0 ? null : (100 * emergency) / submitted },
    rework: { submitted, resubmitted: reworked, rate: ratio(reworked, submitted) },
  };
}

/** From (last) submission to approval, for changes approved in the period; standard changes are pre-approved and left out. */
export async function approvalCycle(em: EntityManager, period: KpiPeriod) {
  const row = await one(
    em,
    `select count(*) as approved,
            percentile_cont(0.5) within group (order by extract(epoch from approved_at - submitted_at)) as median,
            avg(extract(epoch from approved_at - submitted_at)) as average
       from change_request where approved_at >= ? and approved_at < ? and type <> 'standard' and submitted_at is not null /*client*/`,
    period,
    '? = any(client_ids)',
  );
  return { approved: Number(row.approved), medianHours: hours(row.median), averageHours: hours(row.average) };
}

/** Changes waiting for the CAB right now (not bound to the period), and since when the oldest waits. */
export async function cabBacklog(em: EntityManager, clientId?: string) {
  const rows = await em.getConnection().execute<{ pending: string; oldest: Date | null }[]>(
    `select count(*) as pending, min(a.requested_at) as oldest
       from change_approval a join change_request c on c.id = a.change_id
      where a.approver_group = 'cab' and a.status = 'pending' and a.round = c.approval_round and c.state = 'awaiting_approval'${clientId ? ' and ? = any(c.client_ids)' : ''}`,
    clientId ? [clientId] : [],
    'all',
    em.getTransactionContext(),
  );
  return { pending: Number(rows[0]!.pending), oldestWaitingSince: rows[0]!.oldest ? new Date(rows[0]!.oldest).toISOString() : null };
}

export async function unauthorizedCount(em: EntityManager, period: KpiPeriod): Promise<number> {
  const row = await one(em, 'select count(*) as count from change_event where unauthorized and occurred_at >= ? and occurred_at < ? /*client*/', period, 'client_id = ?');
  return Number(row.count);
}

/** The change-management KPIs of REL-03 for a period, optionally for one client. */
export async function changeKpis(em: EntityManager, period: KpiPeriod, teams: { id: string; members: string[] }[]) {
  const [completion, submission, cycle, backlog, unauthorized, byTeam] = await Promise.all([completionStats(em, period), submissionStats(em, period), approvalCycle(em, period), cabBacklog(em, period.clientId), unauthorizedCount(em, period), teamStats(em, period, teams)]);
  return {
    client: period.clientId ?? null,
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    ...completion,
    ...submission,
    approvalCycleTime: cycle,
    cabBacklog: backlog,
    unauthorizedChanges: unauthorized,
    byTeam,
  };
}

const DAY_MS = 86_400_000;
const kpiQuery = z
  .object({
    client: z.string().optional(),
    from: z.coerce.date().optional().describe('start of the period (default: 90 days before to)'),
    to: z.coerce.date().optional().describe('end of the period, exclusive (default: now)'),
  })
  .refine((query) => !query.from || !query.to || query.to > query.from, { path: ['to'], error: 'to must be after from' });

/** Registered before /changes/:id, which would otherwise take "kpis" for a change id. */
export function registerKpiRoutes(api: ApiRouter, deps: { configStore: ConfigStore; clock: Clock }) {
  api.get(
    '/changes/kpis',
    { access: { roles: ['change_manager', 'cab_member', 'account_manager', 'admin'] }, summary: `Change KPIs for a period (REL-03): success rate, emergency %, CAB backlog (now), approval cycle time, rework rate, changes followed by an incident on their CIs/services within ${INCIDENT_WINDOW_HOURS}h (and confirmed causes), unauthorized changes, success per implementing team`, query: kpiQuery },
    async ({ query, em }) => {
      if (query.client && !deps.configStore.current.clients.some((client) => client.id === query.client)) throw new ValidationError('invalid query parameters', [{ path: 'client', message: `unknown client "${query.client}"` }]);
      const to = query.to ?? deps.clock.now();
      return changeKpis(em, { from: query.from ?? new Date(to.getTime() - 90 * DAY_MS), to, clientId: query.client }, deps.configStore.current.teams);
    },
  );
}
