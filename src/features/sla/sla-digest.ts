import type { MikroORM } from '@mikro-orm/postgresql';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { Logger } from '../../platform/logger';
import type { Outbox } from '../notifications/outbox';
import { formatIncidentId } from '../incidents/incident-rules';
import { atDailyDigestTime, createDailyJob } from '../timers/daily-job';
import { usersWithRole } from '../users/users-with-role';
import { formatMs } from './sla-service';

/**
 * The daily SLA digest for incident managers (INC-07, INC-08): open incidents whose SLA
 * is breached or more than 75% used, once a day at `escalation.dailyDigestAt` in the MSP's
 * `timezone`, sent by one replica (see daily-job.ts).
 */
export function createSlaDigest(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; outbox: Outbox; logger: Logger; runnerId: string }) {
  return createDailyJob({
    name: 'sla-digest',
    orm: deps.orm,
    clock: deps.clock,
    logger: deps.logger,
    runnerId: deps.runnerId,
    ...atDailyDigestTime(deps.configStore),
    async work(tx, scheduledFor) {
      const connection = tx.getConnection();
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
      const managers = await usersWithRole(tx, 'incident_manager');
      const lines = rows.map((row) => `${formatIncidentId(row.number)} ${row.title} (${row.client_id ?? 'triage'}): ${row.kind} ${row.outcome === 'breached' ? 'BREACHED' : `due ${row.due_at ?? 'paused'}`}, target ${formatMs(Number(row.target_ms))}`);
      await deps.outbox.enqueue(tx, {
        kind: 'digest.sla',
        incidentId: null,
        recipients: managers,
        eventKey: `sla-digest:${scheduledFor.toISOString()}`,
        subject: `SLA digest: ${rows.filter((row) => row.outcome === 'breached').length} breached, ${rows.filter((row) => row.outcome !== 'breached').length} at risk`,
        body: lines.length ? lines.join('\n') : 'No open incident is breached or at risk.',
      });
      deps.logger.info({ scheduledFor, incidents: rows.length, recipients: managers.length }, 'SLA digest sent to the outbox');
    },
  });
}
