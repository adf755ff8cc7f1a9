import type { MikroORM } from '@mikro-orm/postgresql';
import cron, { type ScheduledTask } from 'node-cron';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { Logger } from '../../platform/logger';
import type { Outbox } from '../notifications/outbox';
import { formatIncidentId } from '../incidents/incident-rules';
import { formatMs } from './sla-service';

const JOB = 'sla-digest';

/**
 * The daily SLA digest for incident managers (INC-07, INC-08): open incidents whose SLA
 * is breached or more than 75% used. node-cron triggers it in every replica; a row per
 * scheduled run in job_run (primary key job + time) lets exactly one replica send it. A
 * run missed while the daemon was down is caught up at start-up ("backfill").
 */
export function createSlaDigest(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; outbox: Outbox; logger: Logger; runnerId: string }) {
  let task: ScheduledTask | null = null;

  /** Today's scheduled time (server time zone), or null when disabled. */
  function scheduledToday(now: Date): Date | null {
    const at = deps.configStore.current.escalation.dailyDigestAt;
    if (!at) return null;
    const [hours, minutes] = at.split(':').map(Number);
    const scheduled = new Date(now);
    scheduled.setHours(hours!, minutes!, 0, 0);
    return scheduled;
  }

  /** Sends the digest for `scheduledFor` unless some replica already did. Returns whether this one did. */
  async function run(scheduledFor: Date): Promise<boolean> {
    const em = deps.orm.em.fork();
    return em.transactional(async (tx) => {
      const connection = tx.getConnection();
      const claimed = await connection.execute<{ job: string }[]>(
        'insert into job_run (job, scheduled_for, started_at, runner) values (?, ?, ?, ?) on conflict do nothing returning job',
        [JOB, scheduledFor, deps.clock.now(), deps.runnerId],
        'all',
        tx.getTransactionContext(),
      );
      if (claimed.length === 0) return false;
      const rows = await connection.execute<{ number: number; title: string; client_id: string | null; kind: string; target_ms: string; consumed_ms: string; outcome: string | null; due_at: string | null }[]>(
        `select i.number, i.title, i.client_id, c.kind, c.target_ms, c.consumed_ms, c.outcome, c.due_at
         from sla_clock c join incident i on i.id = c.incident_id
         where i.state in ('new', 'triaged', 'investigating', 'mitigated') and i.security = false and c.stopped_at is null
           and (c.outcome = 'breached' or c.due_at is null or c.due_at <= ?)
         order by c.outcome nulls last, c.due_at`,
        // Due within a day counts as "at risk" for a morning digest.
        [new Date(deps.clock.now().getTime() + 86_400_000)],
        'all',
        tx.getTransactionContext(),
      );
      const managers = await connection.execute<{ email: string }[]>(
        "select distinct u.email from role_grant g join app_user u on u.id = g.user_id where g.role = 'incident_manager' and g.revoked_at is null and u.disabled_at is null",
        [],
        'all',
        tx.getTransactionContext(),
      );
      const lines = rows.map((row) => `${formatIncidentId(row.number)} ${row.title} (${row.client_id ?? 'triage'}): ${row.kind} ${row.outcome === 'breached' ? 'BREACHED' : `due ${row.due_at ?? 'paused'}`}, target ${formatMs(Number(row.target_ms))}`);
      await deps.outbox.enqueue(tx, {
        kind: 'digest.sla',
        incidentId: null,
        recipients: managers.map((manager) => manager.email),
        eventKey: `${JOB}:${scheduledFor.toISOString()}`,
        subject: `SLA digest: ${rows.filter((row) => row.outcome === 'breached').length} breached, ${rows.filter((row) => row.outcome !== 'breached').length} at risk`,
        body: lines.length ? lines.join('\n') : 'No open incident is breached or at risk.',
      });
      deps.logger.info({ scheduledFor, incidents: rows.length, recipients: managers.length }, 'SLA digest sent to the outbox');
      return true;
    });
  }

  return {
    run,
    start(): void {
      const at = deps.configStore.current.escalation.dailyDigestAt;
      if (!at) return;
      const [hours, minutes] = at.split(':').map(Number);
      task = cron.schedule(`${minutes} ${hours} * * *`, () => {
        const scheduled = scheduledToday(deps.clock.now());
        if (scheduled) run(scheduled).catch((error) => deps.logger.error({ err: error }, 'SLA digest failed'));
      });
      // Backfill: today's digest, if its time has passed while no daemon ran.
      const scheduled = scheduledToday(deps.clock.now());
      if (scheduled && scheduled <= deps.clock.now()) run(scheduled).catch((error) => deps.logger.error({ err: error }, 'SLA digest catch-up failed'));
    },
    async stop(): Promise<void> {
      await task?.stop();
      task = null;
    },
  };
}
