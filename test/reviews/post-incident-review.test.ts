import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let desk: string;
let manager: string;
let engineer: string;
const minutes = (n: number) => n * 60_000;
const as = (token: string) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  t = await startTestApp();
  desk = await t.tokenFor('service_desk', { email: 'desk@test.example' });
  manager = await t.tokenFor('incident_manager', { email: 'helen.carter@precision.example' });
  engineer = await t.tokenFor('tier2', { email: 'grace.kim@precision.example' });
});
afterAll(async () => t?.close());

async function open(body: Record<string, unknown> = {}) {
  const res = await t.http.post('/api/v1/incidents').set(as(desk)).send({ title: 'Checkout down', client: 'northwind', services: ['nw-webshop'], source: 'phone', severity: 1, ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}
const step = (id: string, path: string, body: Record<string, unknown>, token = desk) => t.http.post(`/api/v1/incidents/${id}/${path}`).set(as(token)).send(body);

/** A Sev1 worked through: acknowledged after 5 min, mitigated at 20, resolved at 40. */
async function resolvedSev1(): Promise<{ id: string; reviewId: number }> {
  const id = await open();
  t.clock.advance(minutes(5));
  await step(id, 'acknowledge', {}).expect(200);
  t.clock.advance(minutes(15));
  await step(id, 'transition', { to: 'mitigated' }).expect(200);
  await step(id, 'updates', { message: 'Checkout works again through the standby.' }, manager).expect(201);
  t.clock.advance(minutes(20));
  await step(id, 'transition', { to: 'resolved', resolutionSummary: 'failed over to the standby database' }).expect(200);
  const incident = (await t.http.get(`/api/v1/incidents/${id}`).set(as(manager))).body;
  expect(incident.review).toMatchObject({ status: 'draft', reason: 'sev1' });
  return { id, reviewId: incident.review.id };
}

describe('post-incident reviews (INC-12)', () => {
  it('drafts the review of a resolved Sev1 from the record: impact, response times, SLA, client updates, timeline', async () => {
    const { id, reviewId } = await resolvedSev1();
    const review = (await t.http.get(`/api/v1/reviews/${reviewId}`).set(as(engineer))).body;
    expect(review).toMatchObject({ incidentId: id, status: 'draft', reason: 'sev1', rootCause: '' });
    expect(review.facts.impact).toMatchObject({ clients: [{ id: 'northwind', name: 'Northwind Traders' }], services: [{ id: 'nw-webshop', name: 'Web shop' }], durationMinutes: 40, degradedMinutes: 20 });
    expect(review.facts.response).toMatchObject({ minutesToAcknowledge: 5, minutesToMitigate: 20, minutesToResolve: 40, clientUpdates: { sent: 1, overdue: 0, cadenceKept: true } });
    expect(review.facts.response.sla).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'response', outcome: 'met' }), expect.objectContaining({ kind: 'resolution', outcome: 'met' })]));
    expect(review.facts.timeline.map((event: { type: string }) => event.type)).toEqual(expect.arrayContaining(['incident.created', 'acknowledged', 'public.update', 'state.changed']));
    const timeline = (await t.http.get(`/api/v1/incidents/${id}`).set(as(manager))).body.timeline;
    expect(timeline.some((event: { type: string; message: string }) => event.type === 'review' && event.message === 'post-incident review drafted (required: sev1)')).toBe(true);
  });

  it('is optional below Sev1: started on request, once', async () => {
    const id = await open({ severity: 3 });
    await step(id, 'transition', { to: 'resolved', resolutionSummary: 'cache flushed' }).expect(200);
    expect((await t.http.get(`/api/v1/incidents/${id}`).set(as(manager))).body.review).toBeNull();
    const requested = await step(id, 'review', {}, engineer);
    expect(requested.status).toBe(201);
    expect(requested.body).toMatchObject({ reason: 'requested', status: 'draft' });
    const again = await step(id, 'review', {}, engineer);
    expect(again.status).toBe(409);
    expect((await step(id, 'review', {}, await t.tokenFor('client_contact', { clientId: 'northwind' }))).status).toBe(403);
  });

  it('tracks action items; closing needs the analysis and no open item, deferral is the incident manager\'s with a reason', async () => {
    const { reviewId } = await resolvedSev1();
    const url = `/api/v1/reviews/${reviewId}`;
    const fix = await t.http.post(`${url}/actions`).set(as(engineer)).send({ title: 'Alert on replication lag', owner: 'grace.kim@precision.example', dueAt: '2026-03-09T17:00:00Z' });
    expect(fix.status).toBe(201);
    const drill = await t.http.post(`${url}/actions`).set(as(engineer)).send({ title: 'Fail-over drill each quarter', owner: 'helen.carter@precision.example', dueAt: '2026-06-30T17:00:00Z' });
    expect((await t.http.post(`${url}/actions`).set(as(engineer)).send({ title: 'x', owner: 'nobody', dueAt: 'soon' })).status).toBe(400);

    const notYet = await t.http.post(`${url}/close`).set(as(manager)).send({});
    expect(notYet.status).toBe(400);
    expect(notYet.body.error.details.map((d: { path: string }) => d.path)).toEqual(['rootCause', 'lessonsLearned']);

    const loaded = (await t.http.get(url).set(as(engineer))).body;
    const written = await t.http.patch(url).set(as(engineer)).send({ rootCause: 'Disk full on the primary: <script>alert(1)</script>', lessonsLearned: 'Watch disk growth.', wentWell: 'Fail-over took 15 minutes.', expectedVersion: loaded.version });
    expect(written.status).toBe(200);
    const stale = await t.http.patch(url).set(as(manager)).send({ wentBadly: 'late page', expectedVersion: loaded.version });
    expect(stale.status).toBe(409);

    const blocked = await t.http.post(`${url}/close`).set(as(manager)).send({});
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.message).toContain('2 action item(s) still open');

    expect((await t.http.patch(`${url}/actions/${drill.body.id}`).set(as(engineer)).send({ status: 'deferred', reason: 'next quarter' })).status).toBe(403);
    expect((await t.http.patch(`${url}/actions/${drill.body.id}`).set(as(manager)).send({ status: 'deferred' })).status).toBe(400);
    expect((await t.http.patch(`${url}/actions/${drill.body.id}`).set(as(manager)).send({ status: 'deferred', reason: 'planned with the Q2 DR test' })).body).toMatchObject({ status: 'deferred', deferredBy: 'helen.carter@precision.example' });
    expect((await t.http.patch(`${url}/actions/${fix.body.id}`).set(as(engineer)).send({ status: 'done' })).body).toMatchObject({ status: 'done' });

    const closed = await t.http.post(`${url}/close`).set(as(manager)).send({});
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'closed', closedBy: 'helen.carter@precision.example' });
    expect((await t.http.patch(url).set(as(engineer)).send({ wentBadly: 'too late' })).status).toBe(409);

    const markdown = await t.http.get(`${url}/export.md`).set(as(engineer));
    expect(markdown.headers['content-type']).toMatch(/text\/markdown/);
    expect(markdown.text).toContain('## Root cause\n\nDisk full on the primary: \\<script\\>alert(1)\\</script\\>');
    expect(markdown.text).not.toContain('<script>');
    expect(markdown.text).toContain('- [x] Alert on replication lag (owner grace.kim@precision.example, due 2026-03-09, done)');
    expect(markdown.text).toContain('- [ ] Fail-over drill each quarter (owner helen.carter@precision.example, due 2026-06-30, deferred: planned with the Q2 DR test)');
    expect(markdown.text).toMatch(/Time to acknowledge: 5 min; to mitigate: 20 min; to resolve: 40 min/);

    const page = await t.http.get(`/pir/${reviewId}`).set(as(engineer));
    expect(page.status).toBe(200);
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toContain('<script>alert(1)');
  });

  it('reminds owners of overdue action items once a day, from one replica', async () => {
    const { reviewId } = await resolvedSev1();
    const item = await t.http.post(`/api/v1/reviews/${reviewId}/actions`).set(as(engineer)).send({ title: 'Add a disk alert', owner: 'grace.kim@precision.example', dueAt: new Date(t.clock.now().getTime() + minutes(60)).toISOString() });
    t.clock.advance(minutes(24 * 60));
    const scheduledFor = new Date(t.clock.now());
    expect(await t.app.services.reviews.reminders.run(scheduledFor)).toBe(true);
    expect(await t.app.services.reviews.reminders.run(scheduledFor)).toBe(false);
    const rows = await t.orm.em.fork().getConnection().execute<{ recipient: string; subject: string }[]>("select recipient, subject from notification where kind = 'review.action_overdue' and subject like '%Add a disk alert'");
    expect(rows).toEqual([{ recipient: 'grace.kim@precision.example', subject: expect.stringContaining('Overdue action from the review of INC-') }]);
    await t.http.patch(`/api/v1/reviews/${reviewId}/actions/${item.body.id}`).set(as(engineer)).send({ status: 'done' }).expect(200);
    expect(await t.app.services.reviews.reminders.run(new Date(scheduledFor.getTime() + 86_400_000))).toBe(true);
    const after = await t.orm.em.fork().getConnection().execute<{ count: string }[]>("select count(*) from notification where kind = 'review.action_overdue' and subject like '%Add a disk alert'");
    expect(Number(after[0]!.count)).toBe(1);
  });

  it('measures the impact per service from the alerts that named it', async () => {
    const group = '{}:{alertname="CheckoutDown"}';
    const labels = (service: string) => ({ alertname: 'CheckoutDown', client: 'northwind', service, severity: 'critical' });
    const send = async (alerts: Parameters<typeof alertmanagerPayload>[1]) => {
      await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(alertmanagerPayload(group, alerts)).expect(202);
      await t.app.services.alertProcessor.drain();
    };
    t.clock.set('2026-04-01T10:00:00Z');
    await send([{ labels: labels('nw-webshop'), startsAt: '2026-04-01T10:00:00Z' }]);
    t.clock.set('2026-04-01T10:10:00Z');
    await send([{ labels: labels('nw-webshop'), startsAt: '2026-04-01T10:00:00Z' }, { labels: labels('nw-payments'), startsAt: '2026-04-01T10:10:00Z' }]);
    t.clock.set('2026-04-01T10:20:00Z');
    await send([{ labels: labels('nw-webshop'), startsAt: '2026-04-01T10:00:00Z' }, { labels: labels('nw-payments'), status: 'resolved', startsAt: '2026-04-01T10:10:00Z', endsAt: '2026-04-01T10:20:00Z' }]);
    t.clock.set('2026-04-01T10:40:00Z');
    await send([{ labels: labels('nw-webshop'), status: 'resolved', startsAt: '2026-04-01T10:00:00Z', endsAt: '2026-04-01T10:40:00Z' }, { labels: labels('nw-payments'), status: 'resolved', startsAt: '2026-04-01T10:10:00Z', endsAt: '2026-04-01T10:20:00Z' }]);
    const list = await t.http.get('/api/v1/incidents?client=northwind&since=2026-04-01T00:00:00Z').set(as(manager));
    const id = list.body.items.find((incident: { alertname: string }) => incident.alertname === 'CheckoutDown').id;
    const incident = (await t.http.get(`/api/v1/incidents/${id}`).set(as(manager))).body;
    expect(incident.state).toBe('resolved');
    expect(incident.review).toMatchObject({ reason: 'sev1' });
    const review = (await t.http.get(`/api/v1/reviews/${incident.review.id}`).set(as(manager))).body;
    expect(review.facts.impact.services).toEqual([
      { id: 'nw-webshop', name: 'Web shop', startedAt: '2026-04-01T10:00:00.000Z', endedAt: '2026-04-01T10:40:00.000Z', minutes: 40 },
      { id: 'nw-payments', name: expect.any(String), startedAt: '2026-04-01T10:10:00.000Z', endedAt: '2026-04-01T10:20:00.000Z', minutes: 10 },
    ]);
  });

  it('is required for a recurring incident too', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 3; n += 1) ids.push(await open({ severity: 3, title: 'Disk full on nw-db-01', cis: ['nw-db-01'] }));
    const last = ids.at(-1)!;
    await step(last, 'transition', { to: 'resolved', resolutionSummary: 'logs rotated' }).expect(200);
    expect((await t.http.get(`/api/v1/incidents/${last}`).set(as(manager))).body.review).toMatchObject({ reason: 'recurring' });
  });
});
