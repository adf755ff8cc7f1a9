import { createServer, type Server } from 'node:http';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTimerEngine } from '../../src/features/timers/timer-engine';
import { createLogger } from '../../src/platform/logger';
import { writeConfig } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let hook: Server;
const received: { id: string; text: string }[] = [];
let failNext = 0;

beforeAll(async () => {
  // A local webhook receiver standing in for Slack; it can fail on demand.
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (failNext > 0) {
        failNext -= 1;
        res.writeHead(500).end('down');
        return;
      }
      received.push({ id: String(req.headers['x-incidentd-notification']), text: JSON.parse(body).text });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  t = await startTestApp({ configFile: writeConfig({ notifications: { webhooks: [{ name: 'noc', url, events: ['escalation'] }], giveUpAfter: '1h' } }) });
});
afterAll(async () => {
  hook?.close();
  await t?.close();
});

describe('durable timers', () => {
  it('fire each timer exactly once when two engines race for them', async () => {
    const fired: string[] = [];
    const engines = ['a', 'b'].map((name) =>
      createTimerEngine({ orm: t.orm, clock: t.clock, logger: createLogger('silent'), registry: new Registry(), runnerId: `engine-${name}` }),
    );
    for (const engine of engines) engine.register('test.tick', async ({ timer }) => void fired.push(timer.id));
    const em = t.orm.em.fork();
    for (let i = 0; i < 600; i += 1) engines[0]!.schedule(em, { kind: 'test.tick', incidentId: null, dueAt: new Date(t.clock.now().getTime() - i), payload: { i } });
    await em.flush();

    await Promise.all([engines[0]!.runDue(), engines[1]!.runDue(), engines[0]!.runDue(), engines[1]!.runDue()]);
    expect(fired).toHaveLength(600);
    expect(new Set(fired).size).toBe(600);
    const rows = await t.orm.em.fork().getConnection().execute<{ fired_by: string; count: string }[]>("select fired_by, count(*) from timer where kind = 'test.tick' group by fired_by");
    expect(rows.reduce((sum, row) => sum + Number(row.count), 0)).toBe(600);
    // Both engines did part of the work.
    expect(rows.map((row) => row.fired_by).sort()).toEqual(['engine-a', 'engine-b']);
  });

  it('leave future timers alone and retry a failing handler later', async () => {
    const engine = createTimerEngine({ orm: t.orm, clock: t.clock, logger: createLogger('silent'), registry: new Registry(), runnerId: 'engine-c' });
    let calls = 0;
    // Fails in the batch and in its isolated re-run, then works.
    engine.register('test.flaky', async () => {
      calls += 1;
      if (calls <= 2) throw new Error('transient');
    });
    const em = t.orm.em.fork();
    engine.schedule(em, { kind: 'test.flaky', incidentId: null, dueAt: t.clock.now(), payload: {} });
    engine.schedule(em, { kind: 'test.flaky', incidentId: null, dueAt: new Date(t.clock.now().getTime() + 3_600_000), payload: {} });
    await em.flush();
    expect(await engine.runDue()).toBe(1);
    expect(calls).toBe(2);
    t.clock.advance(31_000);
    await engine.runDue();
    expect(calls).toBe(3);
    const rows = await t.orm.em.fork().getConnection().execute<{ status: string; attempts: number }[]>("select status, attempts from timer where kind = 'test.flaky' order by due_at");
    expect(rows).toEqual([
      { status: 'fired', attempts: 1 },
      { status: 'pending', attempts: 0 },
    ]);
  });

  it('announce, once committed, the incidents a handler says it changed besides its own (a timer about a change)', async () => {
    const announced: number[][] = [];
    const engine = createTimerEngine({ orm: t.orm, clock: t.clock, logger: createLogger('silent'), registry: new Registry(), runnerId: 'engine-d', fired: (ids) => announced.push(ids) });
    engine.register('test.touches', async ({ touched }) => {
      touched(4242);
      touched(4343);
    });
    const em = t.orm.em.fork();
    engine.schedule(em, { kind: 'test.touches', incidentId: null, dueAt: t.clock.now(), payload: {} });
    await em.flush();
    expect(await engine.runDue()).toBe(1);
    expect(announced).toEqual([[4242, 4343]]);
  });
});

describe('webhook channel', () => {
  it('delivers escalation pages as Slack-compatible JSON, retrying with backoff until the receiver is back', async () => {
    const desk = await t.tokenFor('service_desk');
    const created = await t.http.post('/api/v1/incidents').set('Authorization', `Bearer ${desk}`).send({ title: 'Core switch down', client: 'acme-health', severity: 1, source: 'phone' });
    await t.app.services.timers.runDue();
    failNext = 1;
    await t.app.services.notificationSender.runDue();
    let [row] = (await t.http.get(`/api/v1/notifications?incident=${created.body.id}&channel=webhook`).set('Authorization', `Bearer ${await t.tokenFor('admin')}`)).body.items;
    expect(row).toMatchObject({ recipient: 'noc', status: 'pending', attempts: 1, lastError: 'HTTP 500 Internal Server Error' });
    expect(received).toEqual([]);

    t.clock.advance(6_000);
    await t.app.services.notificationSender.runDue();
    expect(received).toHaveLength(1);
    expect(received[0]!.text).toContain(`${created.body.id} Core switch down`);
    [row] = (await t.http.get(`/api/v1/notifications?incident=${created.body.id}&channel=webhook`).set('Authorization', `Bearer ${await t.tokenFor('admin')}`)).body.items;
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(received[0]!.id).toBe(row.id);
  });

  it('gives up into a visible, counted dead letter an admin can retry', async () => {
    const desk = await t.tokenFor('service_desk');
    const admin = await t.tokenFor('admin');
    const created = await t.http.post('/api/v1/incidents').set('Authorization', `Bearer ${desk}`).send({ title: 'VPN down', client: 'acme-health', severity: 1, source: 'phone' });
    await t.app.services.timers.runDue();
    failNext = 1000;
    for (let i = 0; i < 12; i += 1) {
      await t.app.services.notificationSender.runDue();
      t.clock.advance(10 * 60_000);
    }
    let [row] = (await t.http.get(`/api/v1/notifications?incident=${created.body.id}&channel=webhook`).set('Authorization', `Bearer ${admin}`)).body.items;
    expect(row.status).toBe('dead');
    expect(await t.scrapeMetrics()).toMatch(/incidentd_notifications_total\{channel="webhook",result="dead"\} 1/);

    failNext = 0;
    const retried = await t.http.post(`/api/v1/notifications/${row.id}/retry`).set('Authorization', `Bearer ${admin}`);
    expect(retried.body.status).toBe('pending');
    await t.app.services.notificationSender.runDue();
    [row] = (await t.http.get(`/api/v1/notifications?incident=${created.body.id}&channel=webhook`).set('Authorization', `Bearer ${admin}`)).body.items;
    expect(row.status).toBe('sent');
  });
});
