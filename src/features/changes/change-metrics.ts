import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';

/**
 * Change-management gauges, read from the database at scrape time (like the incident
 * gauges), so every replica reports the same numbers. Each is one small aggregate query.
 */
export function registerChangeMetrics(registry: Registry, orm: MikroORM): void {
  const query = <T extends object>(sql: string) => orm.em.fork().getConnection().execute<T[]>(sql);

  new Gauge({
    name: 'incidentd_changes_unauthorized',
    help: 'Unauthorized changes (deploy events without an approved change, REL-02) recorded, by client',
    labelNames: ['client'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await query<{ client: string | null; count: string }>('select client_id as client, count(*) from change_event where unauthorized group by client_id');
      for (const row of rows) this.set({ client: row.client ?? 'unknown' }, Number(row.count));
    },
  });
}
