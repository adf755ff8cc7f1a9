import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import cron, { type ScheduledTask } from 'node-cron';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { Logger } from '../../platform/logger';
import { localDay, localDayOf, todaysRun } from './daily-schedule';

/** After a failed run (database away, a bug in the work), wait this long before trying that day's run again. */
const RETRY_DELAY_MS = 5 * 60_000;

/**
 * A job that runs once a day at "HH:MM" wall-clock time in the MSP's time zone, once across
 * replicas: every daemon checks each minute whether today's run is due (daily-schedule.ts
 * says when, DST included), and a row per run in job_run (primary key job + scheduled_for,
 * at most one per local day) lets exactly one of them do the work, in the same transaction.
 * The same check at start-up catches up today's run when no daemon ran at its time.
 *
 * Why a minute tick and not a cron expression in the zone: node-cron 4 with `timezone`
 * skips the spring-forward day entirely when HH:MM falls into the gap (02:30 in Berlin),
 * and a daemon that was down, or a run that failed, needs the same "is today's run due
 * and not done" question anyway. The time and zone are read at every tick, so a
 * configuration reload takes effect within a minute.
 */
/** The daily jobs' time: `escalation.dailyDigestAt` in the MSP's `timezone`, read afresh at every tick. */
export function atDailyDigestTime(configStore: ConfigStore): { at: () => string | null | undefined; timezone: () => string } {
  return { at: () => configStore.current.escalation.dailyDigestAt, timezone: () => configStore.current.timezone };
}

export function createDailyJob(deps: {
  name: string;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  runnerId: string;
  /** "HH:MM", or null/empty when the job is switched off. */
  at: () => string | null | undefined;
  /** IANA zone `at` is in (the configuration's top-level `timezone`). */
  timezone: () => string;
  work: (em: EntityManager, scheduledFor: Date) => Promise<void>;
}) {
  let task: ScheduledTask | null = null;
  /** Today's run as last computed: recomputed when the local day, the time or the zone changes. */
  let today: { zone: string; at: string; day: string; scheduledFor: Date } | null = null;
  /** Whether this daemon did or saw done `today`'s run: later ticks that day need no query. */
  let done = false;
  let retryAt = 0;
  let running: Promise<boolean> | null = null;

  /**
   * Runs the job for `scheduledFor` unless some replica already ran it on that local day
   * (also under another time or zone: the configuration may have changed since). Returns
   * whether this call did the work.
   */
  async function run(scheduledFor: Date): Promise<boolean> {
    const zone = deps.timezone();
    const day = localDay(localDayOf(scheduledFor, zone), zone);
    return deps.orm.em.fork().transactional(async (em) => {
      // Replicas with the same configuration race on the primary key; the day check covers
      // a run claimed before the time or the zone was changed.
      const claimed = await em.getConnection().execute<{ job: string }[]>(
        `insert into job_run (job, scheduled_for, started_at, runner)
         select ?, ?, ?, ? where not exists (select 1 from job_run where job = ? and scheduled_for >= ? and scheduled_for < ?)
         on conflict do nothing returning job`,
        [deps.name, scheduledFor, deps.clock.now(), deps.runnerId, deps.name, day.start, day.end],
        'all',
        em.getTransactionContext(),
      );
      if (claimed.length === 0) return false;
      await deps.work(em, scheduledFor);
      return true;
    });
  }

  /** Runs today's run if it is due and not done yet. Returns whether this call did the work. */
  async function runDue(): Promise<boolean> {
    // A run still going (a slow digest) is not started twice by the next tick.
    if (running) return false;
    const at = deps.at();
    if (!at) return false;
    const zone = deps.timezone();
    const now = deps.clock.now();
    if (today?.zone !== zone || today.at !== at || today.day !== localDayOf(now, zone)) {
      today = { zone, at, ...todaysRun(now, at, zone) };
      done = false;
    }
    if (done || today.scheduledFor > now || now.getTime() < retryAt) return false;
    running = run(today.scheduledFor);
    try {
      const ran = await running;
      done = true;
      return ran;
    } catch (error) {
      retryAt = now.getTime() + RETRY_DELAY_MS;
      throw error;
    } finally {
      running = null;
    }
  }

  function tick(what: string): Promise<void> {
    return runDue().then(
      () => undefined,
      (error) => deps.logger.error({ err: error, job: deps.name }, `${deps.name} ${what} failed; trying again in ${RETRY_DELAY_MS / 60_000} minutes`),
    );
  }

  return {
    run,
    runDue,
    /** Starts the minute tick; resolves once the start-up catch-up is done (it never rejects). */
    start(): Promise<void> {
      // Second 0 of every minute, so an 08:00 run starts at 08:00:00. A tick missed while the
      // event loop was busy needs no warning: the next one sees the run still due.
      task = cron.schedule('* * * * *', () => tick('run'), { name: deps.name, suppressMissedWarning: true });
      return tick('catch-up');
    },
    async stop(): Promise<void> {
      await task?.destroy();
      task = null;
      await running?.catch(() => {});
    },
  };
}
