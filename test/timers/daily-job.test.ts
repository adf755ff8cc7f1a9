import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrm, migrateToLatest } from '../../src/db/database';
import { createDailyJob } from '../../src/features/timers/daily-job';
import { FakeClock } from '../../src/platform/clock';
import { createLogger } from '../../src/platform/logger';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// Daily jobs against the real PostgreSQL: two "replicas" (each its own connection pool)
// share one database and a fake clock that the test moves minute by minute.
const logger = createLogger('silent');
const MINUTE = 60_000;
let db: TestDatabase;
let orms: MikroORM[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  orms = [await createOrm(db.url, logger, 2), await createOrm(db.url, logger, 2)];
  await migrateToLatest(orms[0]!, logger);
});
afterAll(async () => {
  await Promise.all(orms.map((orm) => orm.close(true)));
  await db?.drop();
});

interface Run {
  runner: string;
  scheduledFor: string;
  ranAt: string;
}
interface Settings {
  at: string | null;
  zone: string;
}

/** A job instance as one daemon builds it; replica-b uses the second connection pool. */
function replica(runner: 'replica-a' | 'replica-b', job: string, clock: FakeClock, settings: Settings, runs: Run[]) {
  return createDailyJob({
    name: job,
    orm: orms[runner === 'replica-b' ? 1 : 0]!,
    clock,
    logger,
    runnerId: runner,
    at: () => settings.at,
    timezone: () => settings.zone,
    async work(_em, scheduledFor) {
      runs.push({ runner, scheduledFor: scheduledFor.toISOString(), ranAt: clock.now().toISOString() });
    },
  });
}

/** Moves the clock from `from` to `to` a minute at a time; every replica ticks each minute, at the same moment. */
async function walk(clock: FakeClock, from: string, to: string, replicas: { runDue(): Promise<boolean> }[]): Promise<void> {
  for (let t = Date.parse(from); t <= Date.parse(to); t += MINUTE) {
    clock.set(new Date(t));
    await Promise.all(replicas.map((job) => job.runDue()));
  }
}

async function claims(job: string): Promise<string[]> {
  const rows = await orms[0]!.em.fork().getConnection().execute<{ scheduled_for: Date }[]>('select scheduled_for from job_run where job = ? order by scheduled_for', [job]);
  return rows.map((row) => new Date(row.scheduled_for).toISOString());
}

describe('daily jobs across DST changes, two replicas', () => {
  it('run once per local day at the wall-clock time of the zone through the spring-forward weekend (Europe/Berlin, 02:30)', async () => {
    const clock = new FakeClock();
    const runs: Run[] = [];
    const settings = { at: '02:30', zone: 'Europe/Berlin' };
    const replicas = [replica('replica-a', 'spring', clock, settings, runs), replica('replica-b', 'spring', clock, settings, runs)];
    await walk(clock, '2026-03-27T23:05:00Z', '2026-03-31T12:00:00Z', replicas); // from 00:05 on 28 March, Berlin

    const expected = [
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:30:00.000Z', // 02:30 does not exist: 03:30 CEST, 23 hours after the day before
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ];
    expect(runs.map((run) => run.scheduledFor)).toEqual(expected);
    // On time: each run started in the minute it was scheduled for.
    expect(runs.map((run) => run.ranAt)).toEqual(expected);
    expect(await claims('spring')).toEqual(expected);
  });

  it('run once on the 25-hour fall-back day, at the first of the two 02:30s (Europe/Berlin)', async () => {
    const clock = new FakeClock();
    const runs: Run[] = [];
    const settings = { at: '02:30', zone: 'Europe/Berlin' };
    const replicas = [replica('replica-a', 'fall', clock, settings, runs), replica('replica-b', 'fall', clock, settings, runs)];
    await walk(clock, '2026-10-23T22:05:00Z', '2026-10-26T12:00:00Z', replicas); // from 00:05 on 24 October, Berlin

    const expected = [
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // the first 02:30 (CEST); not again at 01:30Z, the second 02:30 (CET)
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ];
    expect(runs.map((run) => run.scheduledFor)).toEqual(expected);
    expect(runs.map((run) => run.ranAt)).toEqual(expected);
    expect(await claims('fall')).toEqual(expected);
  });
});

describe('daily jobs across restarts', () => {
  it("catch up today's run at start-up in the zone, once, whichever replica starts", async () => {
    const clock = new FakeClock('2026-03-02T13:30:00Z'); // 08:30 in New York
    const runs: Run[] = [];
    const settings = { at: '08:00', zone: 'America/New_York' };
    const first = replica('replica-a', 'restart', clock, settings, runs);
    await first.start();
    await first.stop();
    expect(runs).toEqual([{ runner: 'replica-a', scheduledFor: '2026-03-02T13:00:00.000Z', ranAt: '2026-03-02T13:30:00.000Z' }]);

    // Restarted the same evening: the day's run is done.
    clock.set('2026-03-02T23:00:00Z');
    const restarted = replica('replica-b', 'restart', clock, settings, runs);
    await restarted.start();
    await restarted.stop();
    expect(runs).toHaveLength(1);

    // No daemon ran on 3 March; one started at 21:00 New York time catches that day's run up.
    clock.set('2026-03-04T02:00:00Z');
    const late = replica('replica-a', 'restart', clock, settings, runs);
    await late.start();
    expect(runs.at(-1)).toEqual({ runner: 'replica-a', scheduledFor: '2026-03-03T13:00:00.000Z', ranAt: '2026-03-04T02:00:00.000Z' });
    // Midnight in New York: 4 March's run is not due before 08:00 there.
    clock.set('2026-03-04T05:00:00Z');
    expect(await late.runDue()).toBe(false);
    await late.stop();
    expect(await claims('restart')).toEqual(['2026-03-02T13:00:00.000Z', '2026-03-03T13:00:00.000Z']);
  });

  it('do not run twice on a day when the time or the zone changed after that day ran', async () => {
    const clock = new FakeClock('2026-07-01T08:05:00Z');
    const runs: Run[] = [];
    // Before the upgrade the job ran at 08:00 UTC (a container's server time).
    const settings: Settings = { at: '08:00', zone: 'UTC' };
    const job = replica('replica-a', 'changed', clock, settings, runs);
    expect(await job.runDue()).toBe(true);

    // Now configured as London time: 08:00 BST (07:00Z) has passed, but 1 July already had its run.
    settings.zone = 'Europe/London';
    clock.set('2026-07-01T09:00:00Z');
    const restarted = replica('replica-b', 'changed', clock, settings, runs);
    expect(await restarted.runDue()).toBe(false);
    // Moved to 10:00 the same day: still one run that day.
    settings.at = '10:00';
    clock.set('2026-07-01T09:30:00Z');
    expect(await restarted.runDue()).toBe(false);
    expect(runs).toHaveLength(1);

    // The next day runs at the new time in the new zone.
    await walk(clock, '2026-07-02T08:55:00Z', '2026-07-02T09:05:00Z', [job, restarted]);
    expect(runs.map((run) => run.scheduledFor)).toEqual(['2026-07-01T08:00:00.000Z', '2026-07-02T09:00:00.000Z']);
  });

  it('try a failed run again a few minutes later, and not at all when switched off', async () => {
    const clock = new FakeClock('2026-03-02T08:00:00Z');
    let failures = 1;
    const ran: string[] = [];
    const settings: Settings = { at: '08:00', zone: 'UTC' };
    const job = createDailyJob({
      name: 'flaky',
      orm: orms[0]!,
      clock,
      logger,
      runnerId: 'replica-a',
      at: () => settings.at,
      timezone: () => settings.zone,
      async work(_em, scheduledFor) {
        if (failures-- > 0) throw new Error('mail queue unavailable');
        ran.push(scheduledFor.toISOString());
      },
    });
    await expect(job.runDue()).rejects.toThrow('mail queue unavailable');
    expect(await claims('flaky')).toEqual([]); // the claim rolled back with the work
    clock.advance(MINUTE);
    expect(await job.runDue()).toBe(false); // not every minute
    clock.advance(5 * MINUTE);
    expect(await job.runDue()).toBe(true);
    expect(ran).toEqual(['2026-03-02T08:00:00.000Z']);

    settings.at = null;
    clock.set('2026-03-03T09:00:00Z');
    expect(await job.runDue()).toBe(false);
    expect(await claims('flaky')).toEqual(['2026-03-02T08:00:00.000Z']);
  });
});
