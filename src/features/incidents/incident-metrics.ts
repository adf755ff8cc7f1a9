import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, type Registry } from 'prom-client';

export type IncidentMetrics = ReturnType<typeof createIncidentMetrics>;

export function createIncidentMetrics(registry: Registry, orm: MikroORM) {
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
  return { created };
}
