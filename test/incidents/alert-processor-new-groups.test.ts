import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { startTestApp, type TestApp } from '../support/test-app';

// During an alert storm the processor's queue falls behind; the first alert of a new group
// (the one that pages) must not wait for it (issue 14 §3; figures from npm run bench:storm).
// Here the queue is held up for good: a test session holds the advisory lock of the storm's
// group, so the queue batch that claimed its alerts cannot finish.
let t: TestApp;
let holder: pg.Client;

beforeAll(async () => {
  t = await startTestApp();
  holder = new pg.Client({ connectionString: t.db.url });
  await holder.connect();
});
afterAll(async () => {
  await holder?.end();
  await t?.close();
});

const post = (body: unknown) => t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(body as object);
const sql = <T>(text: string, params: unknown[] = []) => t.orm.em.fork().getConnection().execute<T[]>(text, params);
async function waitUntil<T>(what: string, check: () => Promise<T | null | undefined>, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a new alert group while the queue is busy with a storm', () => {
  it('becomes an incident without waiting for the queue', async () => {
    const storm = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ labels: { alertname: 'StormGroup', client: 'globex', instance: `gx-storm-${from + i}:9100`, severity: 'warning' } }));
    await post(alertmanagerPayload('{}:{alertname="StormGroup"}', storm(0, 1)));
    await t.app.services.alertProcessor.drain();

    // The storm's queue batch gets stuck on its group's lock.
    await holder.query('select pg_advisory_lock(hashtext($1))', ['alertmanager|{}:{alertname="StormGroup"}|globex']);
    try {
      await post(alertmanagerPayload('{}:{alertname="StormGroup"}', storm(1, 500)));
      await waitUntil('the storm claimed by the queue', async () => (await sql<{ n: string }>("select count(*) as n from alert where claimed_by like '%/queue'"))[0]!.n !== '0', 10_000);

      await post(alertmanagerPayload('{}:{alertname="NewProblem"}', [{ labels: { alertname: 'NewProblem', client: 'globex', ci: 'gx-trade-app-01', severity: 'critical' } }]));
      const incident = await waitUntil('the new group\'s incident', async () => (await sql<{ severity: number }>("select severity from incident where alertname = 'NewProblem'")).at(0), 10_000);
      expect(incident.severity).toBe(1);
      // The storm is still waiting.
      expect(Number((await sql<{ n: string }>("select count(*) as n from alert where labels->>'alertname' = 'StormGroup' and needs_processing"))[0]!.n)).toBe(500);
    } finally {
      await holder.query('select pg_advisory_unlock_all()');
    }
    await t.app.services.alertProcessor.drain();
    expect(Number((await sql<{ n: string }>("select count(*) as n from alert where needs_processing"))[0]!.n)).toBe(0);
  }, 60_000);
});
