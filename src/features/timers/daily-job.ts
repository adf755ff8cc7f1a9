import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import cron, { type ScheduledTask } from 'node-cron';
import type { Clock } from '../../platform/clock';
import type { Logger } from '../../platform/logger';

/**
 * A job that runs once a day at a local time (server time zone), once across replicas:
 * node-cron triggers it in every daemon, and a row per scheduled run in job_run (primary
 * key job + time) lets exactly one of them do the work, in the same transaction. A run
 * missed while no daemon ran is caught up at start-up ("backfill").
 */
export function createDailyJob(deps: {
  name: string;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  runnerId: string;
  /** "HH:MM", or null/empty when the job is switched off. Read at start. */
  at: () => string | null | undefined;
  work: (em: EntityManager, scheduledFor: Date) => Promise<void>;
}) {
  let task: ScheduledTask | null = null;

  function scheduledToday(now: Date): Date | null {
    const at = deps.at();
    if (!at) return null;
    const [hours, minutes] = at.split(':').map(Number);
    const scheduled = new Date(now);
    scheduled.setHours(hours!, minutes!, 0, 0);
    return scheduled;
  }

  /** Runs the job for `scheduledFor` unless some replica already did. Returns whether this one did. */
  async function run(scheduledFor: Date): Promise<boolean> {
    return deps.orm.em.fork().transactional(async (em) => {
      const claimed = await em.getConnection().execute<{ job: string }[]>(
        'insert into job_run (job, scheduled_for, started_at, runner) values (?, ?, ?, ?) on conflict do nothing returning job',
        [deps.name, scheduledFor, deps.clock.now(), deps.runnerId],
        'all',
        em.getTransactionContext(),
      );
      if (claimed.length === 0) return false;
      await deps.work(em, scheduledFor);
      return true;
    });
  }

  function runLogged(scheduledFor: Date, what: string): void {
    run(scheduledFor).catch((error) => deps.logger.error({ err: error, job: deps.name }, `${deps.name} ${what} failed`));
  }

  return {
    run,
    start(): void {
      const at = deps.at();
      if (!at) return;
      const [hours, minutes] = at.split(':').map(Number);
      task = cron.schedule(`${minutes} ${hours} * * *`, () => {
        const scheduled = scheduledToday(deps.clock.now());
        if (scheduled) runLogged(scheduled, 'run');
      });
      const scheduled = scheduledToday(deps.clock.now());
      if (scheduled && scheduled <= deps.clock.now()) runLogged(scheduled, 'catch-up');
    },
    async stop(): Promise<void> {
      await task?.stop();
      task = null;
    },
  };
}
