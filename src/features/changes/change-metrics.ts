import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock';
import { approvalCycle, cabBacklog, completionStats, submissionStats } from './change-kpis';

const TRAILING_DAYS = 30;

/**
 * Change-management gauges, read from the database at scrape time (like the incident
 * gauges), so every replica reports the same numbers. Each is one small aggregate query;
 * rates cover the trailing 30 days.
 */
export function registerChangeMetrics(registry: Registry, orm: MikroORM, clock: Clock): void {
  const trailing = () => {
    const to = clock.now();
    return { from: new Date(to.getTime() - TRAILING_DAYS * 86_400_000), to };
  };

  new Gauge({
    name: 'incidentd_changes_unauthorized',
    help: 'Unauthorized changes (deploy events without an approved change, REL-02) recorded, by client',
    labelNames: ['client'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await orm.em.fork().getConnection().execute<{ client: string | null; count: string }[]>('select client_id as client, count(*) from change_event where unauthorized group by client_id');
      for (const row of rows) this.set({ client: row.client ?? 'unknown' }, Number(row.count));
    },
  });

  new Gauge({
    name: 'incidentd_changes_cab_backlog',
    help: 'Changes waiting for a CAB decision (REL-03)',
    registers: [registry],
    async collect() {
      this.set((await cabBacklog(orm.em.fork())).pending);
    },
  });

  new Gauge({
    name: 'incidentd_changes_rate',
    help: `Change KPIs over the trailing ${TRAILING_DAYS} days as ratios 0..1 (REL-03): success, emergency, rework, followed_by_incident; absent without changes to measure`,
    labelNames: ['kpi'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const em = orm.em.fork();
      const [completion, submission] = await Promise.all([completionStats(em, trailing()), submissionStats(em, trailing())]);
      const rates = {
        success: completion.successRate.rate,
        followed_by_incident: completion.followedByIncidents.rate,
        emergency: submission.emergencyChanges.percentage === null ? null : submission.emergencyChanges.percentage / 100,
        rework: submission.rework.rate,
      };
      for (const [kpi, value] of Object.entries(rates)) if (value !== null) this.set({ kpi }, value);
    },
  });

  new Gauge({
    name: 'incidentd_changes_approval_cycle_seconds',
    help: `Submission to approval of the changes approved in the trailing ${TRAILING_DAYS} days (REL-03), median and average`,
    labelNames: ['stat'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const cycle = await approvalCycle(orm.em.fork(), trailing());
      if (cycle.medianHours !== null) this.set({ stat: 'median' }, cycle.medianHours * 3600);
      if (cycle.averageHours !== null) this.set({ stat: 'average' }, cycle.averageHours * 3600);
    },
  });
}
