import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { startTestApp, type TestApp } from '../support/test-app';

// The deadlock (40P01) seen in the alert processor under load (issue 14 §3): a batch locked
// its incidents FOR UPDATE, in id order, while the timer engine wrote escalation pages and
// timeline entries for up to 25 incidents per transaction, in due order. Each of those rows
// takes a KEY SHARE lock on its incident (foreign key check), which FOR UPDATE waits for: the
// batch waited on the timer transaction for incident B while holding A, and the timer
// transaction then waited on the batch for A. A batch now locks FOR NO KEY UPDATE, which
// such writes never block.
let t: TestApp;
let other: pg.Client;

beforeAll(async () => {
  t = await startTestApp();
  other = new pg.Client({ connectionString: t.db.url });
  await other.connect();
});
afterAll(async () => {
  await other?.end();
  await t?.close();
});

const post = (body: unknown) => t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(body as object);
const alertOf = (group: string, host: string) => ({ labels: { alertname: group, client: 'globex', instance: `${host}:9100`, severity: 'warning' } });
const incidentOf = async (group: string) =>
  Number((await t.orm.em.fork().getConnection().execute<{ id: number }[]>("select id from incident where alertname = ? and state = 'new'", [group]))[0]!.id);
/** What a timer engine batch writes per incident: a timeline entry (escalation page). */
const timelineEntry = (incidentId: number) =>
  other.query("insert into incident_event (incident_id, at, type, visibility, actor_type, actor_name, message) values ($1, now(), 'escalation', 'internal', 'system', 'incidentd', 'step 1: paged')", [incidentId]);

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('an alert batch and a transaction writing timeline entries of the same incidents', () => {
  it('do not wait for each other, whatever order the other takes the incidents in', async () => {
    await post(alertmanagerPayload('{}:{alertname="LockA"}', [alertOf('LockA', 'a1')]));
    await post(alertmanagerPayload('{}:{alertname="LockB"}', [alertOf('LockB', 'b1')]));
    await t.app.services.alertProcessor.drain();
    await t.app.services.alertProcessor.stop();
    const [a, b] = [await incidentOf('LockA'), await incidentOf('LockB')];
    expect(a).toBeLessThan(b);

    // The other transaction has written B's entry (a page due first) and not committed yet.
    await other.query('begin');
    await timelineEntry(b);
    // A batch with new alerts for both incidents locks A, then B.
    await post(alertmanagerPayload('{}:{alertname="LockA"}', [alertOf('LockA', 'a2')]));
    await post(alertmanagerPayload('{}:{alertname="LockB"}', [alertOf('LockB', 'b2')]));
    const batch = t.app.services.alertProcessor.drain();
    try {
      await within(batch, 10_000, 'the alert batch');
    } finally {
      // Without the fix the batch waits for this transaction; its next entry (A) would close the cycle.
      await timelineEntry(a).catch(() => {});
      await other.query('rollback');
      await batch.catch(() => {});
    }
    const counts = await t.orm.em.fork().getConnection().execute<{ incident_id: number; count: string }[]>(
      'select incident_id, count(*) from alert where incident_id in (?, ?) group by incident_id order by incident_id',
      [a, b],
    );
    expect(counts.map((row) => Number(row.count))).toEqual([2, 2]);
  }, 30_000);
});

// The other lock order: intake's upsert locks the alert rows a webhook redelivers (an HA
// pair's second copy) in identity order (integration, fingerprint, startsAt); a batch linking
// its alerts to their incidents updated them in its own order (claim order). Two statements
// locking the same rows in different orders deadlock. The batch now locks them in intake's
// order first.
describe('an alert batch linking its alerts while intake upserts the same alerts', () => {
  it('takes their row locks in the order intake does', async () => {
    await t.app.services.alertProcessor.stop();
    // Stored (and claimed) in one order, the reverse of identity order.
    const fingerprints = ['order-e', 'order-d', 'order-c', 'order-b', 'order-a'];
    for (const fingerprint of fingerprints) {
      const body = alertmanagerPayload('{}:{alertname="LockOrder"}', [alertOf('LockOrder', fingerprint)]);
      body.alerts[0]!.fingerprint = fingerprint;
      await post(body);
    }
    const ids = new Map(
      (await t.orm.em.fork().getConnection().execute<{ id: string; fingerprint: string }[]>("select id, fingerprint from alert where fingerprint like 'order-%'")).map((row) => [row.fingerprint, String(row.id)]),
    );

    // Hold the batch at its start (after its claim), then lock the alert intake would lock first.
    const groupLock = 'alertmanager|{}:{alertname="LockOrder"}|globex';
    await other.query('select pg_advisory_lock(hashtext($1))', [groupLock]);
    const batch = t.app.services.alertProcessor.drain();
    await waitForLockWait(['advisory']);
    await other.query('begin');
    await other.query('select 1 from alert where id = $1 for update', [ids.get('order-a')]);
    await other.query('select pg_advisory_unlock(hashtext($1))', [groupLock]);
    try {
      // The batch now waits for that row before it locks any other: the others are free.
      await waitForLockWait(['transactionid', 'tuple']);
      for (const fingerprint of fingerprints.slice(0, -1)) {
        await expect(other.query('select 1 from alert where id = $1 for update nowait', [ids.get(fingerprint)]), fingerprint).resolves.toBeDefined();
      }
    } finally {
      await other.query('rollback');
      await within(batch, 10_000, 'the alert batch');
    }
    expect((await t.orm.em.fork().getConnection().execute<{ n: string }[]>("select count(*) as n from alert where fingerprint like 'order-%' and incident_id is not null"))[0]!.n).toBe('5');
  }, 30_000);
});

/** Until a session of the test database waits for a lock of one of these kinds (bounded). */
async function waitForLockWait(kinds: string[]): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { rows } = await other.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and wait_event = any($1)", [kinds]);
    if (rows[0].n > 0) return;
    if (Date.now() - started > 10_000) throw new Error('no session waited for a lock within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
