import { afterAll, describe, expect, it } from 'vitest';
import { createOrm, migrateToLatest } from '../../src/db/database';
import { createLogger } from '../../src/platform/logger';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let db: TestDatabase | undefined;
let orm: Awaited<ReturnType<typeof createOrm>> | undefined;
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

describe('migration 0010: the approved window of changes approved before it (IMP-01)', () => {
  it('takes the window a change had when it was approved, from the audit trail, for approved and scheduled changes only', async () => {
    const logger = createLogger('silent');
    db = await createTestDatabase();
    orm = await createOrm(db.url, logger, 2);
    await orm.getMigrator().up({ to: '0009-correlation' });
    const sql = orm.em.getConnection();
    const change = (number: number, state: string, start: string) =>
      sql.execute(
        `insert into change_request (number, title, type, state, requester_id, requester_email, window_start, window_end, approved_at, created_at, updated_at)
         values (?, 'Upgrade', 'normal', ?, 1, 'req@test.example', ?, ?, now(), now(), now())`,
        [number, state, start, new Date(Date.parse(start) + 3_600_000).toISOString()],
      );
    const audit = (number: number, before: object, after: object) =>
      sql.execute(`insert into audit_event (at, actor_type, actor_name, action, entity_type, entity_id, before, after) values (now(), 'user', 'cm', 'change.approve', 'change', ?, ?, ?)`, [`CHG-${number}`, JSON.stringify(before), JSON.stringify(after)]);
    // CHG-1 was approved for the 10th and then moved to the 11th (the old defect): its approval covers the 10th only.
    await change(1, 'scheduled', '2026-03-11T20:00:00Z');
    await audit(1, { state: 'awaiting_approval' }, { state: 'approved', windowStart: '2026-03-10T20:00:00.000Z', windowEnd: '2026-03-10T23:00:00.000Z' });
    await audit(1, { state: 'approved' }, { state: 'scheduled', windowStart: '2026-03-11T20:00:00.000Z', windowEnd: '2026-03-11T21:00:00.000Z' });
    // An emergency approved without a window keeps none; a completed change is left alone.
    await change(2, 'approved', '2026-03-12T20:00:00Z');
    await audit(2, { state: 'awaiting_approval' }, { state: 'approved', windowStart: null, windowEnd: null });
    await change(3, 'completed', '2026-03-01T20:00:00Z');
    await audit(3, { state: 'awaiting_approval' }, { state: 'approved', windowStart: '2026-03-01T20:00:00.000Z', windowEnd: '2026-03-01T21:00:00.000Z' });

    // 0010 and the migrations after it.
    expect((await migrateToLatest(orm, logger))[0]).toBe('0010-change-approved-window');
    const rows = await sql.execute<{ number: number; start: string | null; end: string | null }[]>('select number, approved_window_start as start, approved_window_end as "end" from change_request order by number');
    const iso = (at: string | null) => (at === null ? null : new Date(at).toISOString());
    expect(rows.map((row) => [row.number, iso(row.start), iso(row.end)])).toEqual([
      [1, '2026-03-10T20:00:00.000Z', '2026-03-10T23:00:00.000Z'],
      [2, null, null],
      [3, null, null],
    ]);
  });
});
