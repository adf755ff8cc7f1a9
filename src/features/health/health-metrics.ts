import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';

/** Longer than this and the database counts as unavailable for this scrape. */
const PROBE_TIMEOUT_MS = 3000;

/**
 * `incidentd_database_up`: whether the database answered a query during this scrape. The
 * "database unavailable" alert (contrib/prometheus/incidentd-rules.yml) watches it; the
 * scrape itself keeps working while the database is away (see createMetrics).
 */
export function registerHealthMetrics(registry: Registry, orm: MikroORM): void {
  new Gauge({
    name: 'incidentd_database_up',
    help: `1 when the database answered a query during this scrape (within ${PROBE_TIMEOUT_MS / 1000} s), 0 when it did not`,
    registers: [registry],
    async collect() {
      this.set((await databaseAnswers(orm)) ? 1 : 0);
    },
  });
}

async function databaseAnswers(orm: MikroORM): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
  });
  const probe = orm.em
    .fork()
    .getConnection()
    .execute('select 1')
    .then(
      () => true,
      () => false,
    );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
