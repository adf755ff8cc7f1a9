import { createServer, request, type ClientRequest, type Server } from 'node:http';
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
let server: Server;
let base: string;

beforeAll(async () => {
  t = await startTestApp();
  holder = new pg.Client({ connectionString: t.db.url });
  await holder.connect();
  server = createServer(t.app.handleRequest).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
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

describe('intake while a new group becomes an incident', () => {
  it('lets only a few webhooks in at once, then all of them again', async () => {
    const lock = 'alertmanager|{}:{alertname="PagingNow"}|globex';
    await holder.query('select pg_advisory_lock(hashtext($1))', [lock]);
    const held: ClientRequest[] = [];
    // Shedding comes before authentication: a request without a token tells "shed" (503) from "let in" (401).
    const unauthenticated = async () => (await fetch(`${base}/api/v1/alerts/alertmanager`, { method: 'POST', body: '{}' })).status;
    try {
      await post(alertmanagerPayload('{}:{alertname="PagingNow"}', [{ labels: { alertname: 'PagingNow', client: 'globex', severity: 'critical' } }]));
      // The new group's batch is at work (and waits for the lock).
      await waitUntil('the new group claimed', async () => (await sql<{ n: string }>("select count(*) as n from alert where claimed_by like '%/new-groups'"))[0]!.n !== '0', 10_000);
      // Four webhooks whose bodies are still arriving occupy the few places.
      for (let i = 0; i < 4; i += 1) {
        const req = request(`${base}/api/v1/alerts/alertmanager`, { method: 'POST', headers: { Authorization: `Bearer ${AM_TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': '100000' } });
        req.on('error', () => {});
        req.write('{');
        held.push(req);
      }
      expect(await waitUntil('a webhook shed', async () => (await unauthenticated()) === 503, 10_000)).toBe(true);
      const shed = await fetch(`${base}/api/v1/alerts/alertmanager`, { method: 'POST', headers: { Authorization: `Bearer ${AM_TOKEN}` }, body: '{}' });
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBeTruthy();
    } finally {
      await holder.query('select pg_advisory_unlock_all()');
    }
    // Once the incident exists, the four webhooks in progress leave room for many more.
    await waitUntil('the incident', async () => (await sql("select 1 from incident where alertname = 'PagingNow'")).at(0), 10_000);
    expect(await waitUntil('a webhook let in', async () => (await unauthenticated()) === 401, 10_000)).toBe(true);
    for (const req of held) req.destroy();
  }, 60_000);
});
