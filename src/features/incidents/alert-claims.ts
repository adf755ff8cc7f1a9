import { createHash } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { LIVE_PROCESSORS_SQL } from './alert-processor-lease';
import { OPEN_STATES } from './incident-rules';

/**
 * The alert processor's work queue, in SQL: claiming stored alerts, linking them to their
 * incident, giving claims back. Plain SQL on purpose: hydrating thousands of entities per
 * batch (and diffing their JSON labels) cost more CPU than the whole intake path.
 */

/** An alert row as the processor needs it. */
export interface PendingAlert {
  id: string;
  integration: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  startsAt: Date;
  /** The row version (PostgreSQL's xmin) at claim time: tells whether intake changed it meanwhile. */
  rowVersion: string;
  labels: Record<string, string>;
  truncatedAlerts: number;
  incidentId: number | null;
  /** Claims since it was last processed, this one included. */
  attempts: number;
  lastError: string | null;
}

/**
 * Which alerts a claim takes (each alert belongs to one lane when it is claimed):
 * - `new-groups`: alerts of groups that have no open incident yet (their first alert pages
 *   someone), oldest first. A lane of their own, so during an alert storm a new problem does
 *   not wait behind thousands of alerts that only join open incidents.
 * - `queue`: all the others (alerts of known incidents and of groups with an open one), oldest first.
 */
export type ClaimLane = 'new-groups' | 'queue';

/** The index key of an alert group's incidents (incident.group_hash): any group key fits. */
export function groupHashOf(integration: string, groupKey: string): string {
  return createHash('md5').update(`${integration}|${groupKey}`, 'utf8').digest('hex');
}
/** The same, computed by PostgreSQL from an alert row. */
const GROUP_HASH_SQL = "md5(a.integration || '|' || a.group_key)";
const OPEN_STATES_SQL = OPEN_STATES.map((state) => `'${state}'`).join(', ');

/**
 * Claims work instead of holding row locks while processing: intake upserts the same rows
 * (an alert resolving while its firing is processed) and must never wait behind a batch.
 * A claim names its claimant, `<processor id>/<lane>`; it holds while that processor lives
 * (alert-processor-lease.ts), so the claims of a processor that died are taken over within
 * seconds. Claims a lane left behind itself (a batch whose give-back failed) are its own to
 * take again: each lane of a processor runs one batch at a time.
 */
export function claimantOf(processorId: string, lane: ClaimLane): string {
  return `${processorId}/${lane}`;
}

const OF_NEW_GROUP_SQL = `a.incident_id is null and not exists (select 1 from incident i where i.group_hash = ${GROUP_HASH_SQL} and i.state in (${OPEN_STATES_SQL}))`;

function claimSql(lane: ClaimLane): string {
  return `
    with live as materialized (${LIVE_PROCESSORS_SQL})
    update alert set claimed_by = ?, attempts = attempts + 1
    where id in (
      select a.id from alert a
      where a.needs_processing
        and (a.retry_at is null or a.retry_at <= ?)
        and (a.claimed_by is null or a.claimed_by = ? or split_part(a.claimed_by, '/', 1) not in (select id from live))
        and ${lane === 'new-groups' ? OF_NEW_GROUP_SQL : `not (${OF_NEW_GROUP_SQL})`}
      order by a.id limit ? for update of a skip locked)
    returning id, integration, group_key as "groupKey", status, starts_at as "startsAt", xmin::text as "rowVersion",
              labels, truncated_alerts as "truncatedAlerts", incident_id as "incidentId", attempts, last_error as "lastError"`;
}
const CLAIM_SQL: Record<ClaimLane, string> = { 'new-groups': claimSql('new-groups'), queue: claimSql('queue') };

export async function claimAlerts(orm: MikroORM, options: { claimant: string; lane: ClaimLane; limit: number; now: Date }): Promise<PendingAlert[]> {
  const rows = await orm.em.getConnection().execute<PendingAlert[]>(CLAIM_SQL[options.lane], [options.claimant, options.now, options.claimant, options.limit]);
  // The driver hands timestamps and bigints over as text.
  return rows.map((row) => ({ ...row, id: String(row.id), startsAt: new Date(row.startsAt), incidentId: row.incidentId === null ? null : Number(row.incidentId) }));
}

const idList = (ids: readonly string[]) => JSON.stringify(ids);
const ID_LIST_SQL = 'select value::bigint from jsonb_array_elements_text(?::jsonb)';

/**
 * Row-locks alerts in the order intake's upsert locks them (by identity: integration,
 * fingerprint, startsAt; see intake-store.ts). Two statements updating the same alert rows
 * in different orders deadlock: an HA pair's second delivery upserts the alerts a batch is
 * linking right then.
 */
export async function lockInIntakeOrder(em: EntityManager, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await em
    .getConnection()
    .execute(`select 1 from alert where id in (${ID_LIST_SQL}) order by integration, fingerprint, starts_at for no key update`, [idList(ids)], 'all', em.getTransactionContext());
}

/** The claim was lost (this processor's lease ran out and another processor took the alerts): the batch is void. */
export class ClaimLostError extends Error {
  constructor(readonly lost: number) {
    super(`${lost} claimed alerts were taken over by another processor meanwhile`);
  }
}

/**
 * Links processed alerts to their incidents and ends the claims, in the batch's transaction.
 * A row intake changed meanwhile (resolved while its firing was processed) stays in the queue,
 * and a later batch takes the change. Throws ClaimLostError (rolling the batch back) when any
 * claim is no longer this processor's.
 */
export async function linkAlerts(em: EntityManager, claimant: string, links: readonly { alert: PendingAlert; incidentId: number }[]): Promise<void> {
  await lockInIntakeOrder(
    em,
    links.map((link) => link.alert.id),
  );
  const result = await em.getConnection().execute<{ affectedRows: number }>(
    `update alert as a set incident_id = v.incident_id, claimed_by = null, attempts = 0, retry_at = null, last_error = null, parked_at = null,
            needs_processing = (a.xmin::text <> v.row_version)
     from (values ${links.map(() => '(?::bigint, ?::int, ?::text)').join(',')}) as v(id, incident_id, row_version)
     where a.id = v.id and a.claimed_by = ?`,
    [...links.flatMap((link) => [link.alert.id, link.incidentId, link.alert.rowVersion]), claimant],
    'run',
    em.getTransactionContext(),
  );
  if (result.affectedRows < links.length) throw new ClaimLostError(links.length - result.affectedRows);
}

/**
 * Gives claims back after a failure: not claimed again before `retryAt`. A transient failure
 * (`refund`) does not count as an attempt.
 */
export async function releaseAlerts(orm: MikroORM, claimant: string, ids: readonly string[], options: { retryAt: Date; error?: string; refund?: boolean }): Promise<void> {
  if (ids.length === 0) return;
  await orm.em.fork().transactional(async (em) => {
    await lockInIntakeOrder(em, ids);
    await em.getConnection().execute(
      `update alert set claimed_by = null, retry_at = ?, last_error = coalesce(?, last_error), attempts = greatest(attempts - ?, 0)
       where id in (${ID_LIST_SQL}) and claimed_by = ?`,
      [options.retryAt, options.error ?? null, options.refund ? 1 : 0, idList(ids), claimant],
      'run',
      em.getTransactionContext(),
    );
  });
}

/** Takes parked alerts out of the queue, in the caller's transaction (poison-alerts.ts). */
export async function parkAlerts(em: EntityManager, claimant: string, ids: readonly string[], options: { at: Date; error: string; incidentId: number | null }): Promise<void> {
  await lockInIntakeOrder(em, ids);
  await em.getConnection().execute(
    `update alert set needs_processing = false, claimed_by = null, retry_at = null, parked_at = ?, last_error = ?, parked_incident_id = ?
     where id in (${ID_LIST_SQL}) and claimed_by = ?`,
    [options.at, options.error, options.incidentId, idList(ids), claimant],
    'run',
    em.getTransactionContext(),
  );
}
