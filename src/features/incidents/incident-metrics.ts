import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock';

export type IncidentMetrics = ReturnType<typeof createIncidentMetrics>;

export function createIncidentMetrics(registry: Registry, orm: MikroORM, clock: Clock) {
  const created = new Counter({
    name: 'incidentd_incidents_created_total',
    help: 'Incidents created, by client (triage = unknown client), severity and category',
    labelNames: ['client', 'severity', 'category'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'incidentd_incidents_open',
    help: 'Open incidents (new, triaged, investigating, mitigated) by client and severity',
    labelNames: ['client', 'severity'] as const,
    registers: [registry],
    // Read at scrape time from the database, so every replica reports the same truth.
    async collect() {
      this.reset();
      const rows = await orm.em
        .fork()
        .getConnection()
        .execute<{ client: string | null; severity: number; count: string }[]>(
          "select client_id as client, severity, count(*) from incident where state in ('new','triaged','investigating','mitigated') group by client_id, severity",
        );
      for (const row of rows) this.set({ client: row.client ?? 'triage', severity: String(row.severity) }, Number(row.count));
    },
  });
  // The alert processor's backlog: alerts stored by intake and not yet turned into incident
  // changes, read at scrape time through the partial index alert_needs_processing.
  new Gauge({
    name: 'incidentd_alerts_unprocessed',
    help: 'Stored alerts the alert processor has not yet turned into incident changes (its backlog)',
    registers: [registry],
    async collect() {
      const [row] = await orm.em.fork().getConnection().execute<{ count: string }[]>('select count(*) from alert where needs_processing');
      this.set(Number(row!.count));
    },
  });
  new Gauge({
    name: 'incidentd_alerts_unprocessed_oldest_seconds',
    help: 'Age of the oldest alert waiting for the alert processor, since intake last changed it (0 when none waits): grows while processing is stuck',
    registers: [registry],
    async collect() {
      const [row] = await orm.em.fork().getConnection().execute<{ oldest: Date | string | null }[]>('select changed_at as oldest from alert where needs_processing order by id limit 1');
      this.set(row ? Math.max(0, (clock.now().getTime() - new Date(row.oldest!).getTime()) / 1000) : 0);
    },
  });
  return { created };
}
