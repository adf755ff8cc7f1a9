import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

// The example configuration: policy "major" for Sev1/2 (on call now, +10m tier 2, +15m
// incident managers and the account manager), "standard" otherwise (business hours only).
// Northwind: Sev1 respond 15m / resolve 4h 24x7; Sev3 respond 4h business (mon-fri 08-18 London).
let t: TestApp;
let desk: string;
const minutes = (n: number) => n * 60_000;

beforeAll(async () => {
  t = await startTestApp();
  desk = await t.tokenFor('service_desk', { email: 'desk@test.example' });
  await t.tokenFor('incident_manager', { email: 'helen.carter@precision.example' });
});
afterAll(async () => t?.close());

const as = () => ({ Authorization: `Bearer ${desk}` });
async function open(body: Record<string, unknown>) {
  const res = await t.http.post('/api/v1/incidents').set(as()).send({ title: 'Checkout down', client: 'northwind', services: ['nw-webshop'], source: 'phone', ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}
const detail = async (id: string) => (await t.http.get(`/api/v1/incidents/${id}`).set(as())).body;
const fire = () => t.app.services.timers.runDue();
const pages = async (id: string) => {
  const res = await t.http.get(`/api/v1/notifications?incident=${id}&limit=500`).set(as());
  return res.body.items as { kind: string; recipient: string; channel: string; combinedCount: number; subject: string }[];
};

describe('escalation policy (INC-08)', () => {
  it('pages step by step until someone acknowledges, then stops', async () => {
    const id = await open({ severity: 1 });
    await fire();
    let incident = await detail(id);
    expect(incident.escalation).toMatchObject({ policy: 'major', step: 2, status: 'active' });
    // Monday 10:00 London: the daily service desk rotation (hand-off 08:00, started 2026-01-05) is on its 56th day.
    const stepOne = incident.timeline.find((e: { type: string; message: string }) => e.type === 'escalation' && e.message.startsWith('step 1 of major'));
    expect(stepOne.message).toMatch(/paged on call in service-desk-primary \((tom\.baker|lena\.fischer|omar\.haddad)@precision\.example\)/);
    expect((await pages(id)).filter((p) => p.kind === 'escalation.page')).toHaveLength(1);

    t.clock.advance(minutes(10));
    await fire();
    incident = await detail(id);
    expect(incident.timeline.some((e: { message: string }) => e.message.startsWith('step 2 of major: paged on call in tier2-weekly'))).toBe(true);
    const recipients = (await pages(id)).map((p) => p.recipient);
    expect(recipients).toEqual(expect.arrayContaining(['grace.kim@precision.example', 'marco.rossi@precision.example']));

    await t.http.post(`/api/v1/incidents/${id}/acknowledge`).set(as()).send({}).expect(200);
    incident = await detail(id);
    expect(incident.escalation.status).toBe('stopped');
    const escalationPages = async () => (await pages(id)).filter((p) => p.kind.startsWith('escalation.')).length;
    const before = await escalationPages();
    t.clock.advance(minutes(30));
    await fire();
    expect(await escalationPages()).toBe(before);
  });

  it('starts again from the first step when a resolved incident is re-opened', async () => {
    const id = await open({ severity: 2 });
    await fire();
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'resolved', resolutionSummary: 'restarted' }).expect(200);
    expect((await detail(id)).escalation.status).toBe('stopped');
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'investigating', reason: 'still failing' }).expect(200);
    await fire();
    const incident = await detail(id);
    expect(incident.acknowledgedAt).toBeNull();
    expect(incident.escalation).toMatchObject({ status: 'active', step: 2, round: 1 });
    expect(incident.timeline.filter((e: { message: string }) => e.message.startsWith('step 1 of major'))).toHaveLength(2);
  });

  it('skips steps whose condition does not hold, and says so', async () => {
    t.clock.set('2026-03-07T12:00:00Z'); // a Saturday: outside Northwind's business hours
    const id = await open({ severity: 3 });
    await fire();
    const incident = await detail(id);
    expect(incident.timeline.find((e: { type: string }) => e.type === 'escalation').message).toBe('step 1 of standard skipped: only inside business hours');
    expect((await pages(id)).filter((p) => p.kind === 'escalation.page')).toEqual([]);
  });

  it('escalates by hand: technical to the next tier, managerial to incident managers and the account manager', async () => {
    t.clock.set('2026-03-09T10:00:00Z');
    const id = await open({ severity: 3 });
    await t.http.post(`/api/v1/incidents/${id}/assign`).set(as()).send({ team: 'service-desk' }).expect(200);
    const technical = await t.http.post(`/api/v1/incidents/${id}/escalate`).set(as()).send({ type: 'technical', reason: 'needs database expertise' });
    expect(technical.status).toBe(200);
    expect(technical.body.assignedTeam).toBe('tier2');
    const managerial = await t.http.post(`/api/v1/incidents/${id}/escalate`).set(as()).send({ type: 'managerial', reason: 'client threatens penalty' });
    expect(managerial.status).toBe(200);
    const recipients = (await pages(id)).filter((p) => p.kind === 'escalation.managerial').map((p) => p.recipient);
    expect(recipients.sort()).toEqual(['helen.carter@precision.example', 'sarah.okafor@precision.example']);
    const audit = await t.orm.em.fork().getConnection().execute<{ action: string }[]>("select action from audit_event where entity_id = ? and action like 'incident.escalated%' order by id", [id]);
    expect(audit.map((a) => a.action)).toEqual(['incident.escalated_technical', 'incident.escalated_managerial']);
    expect((await t.http.post(`/api/v1/incidents/${id}/escalate`).set(as()).send({ type: 'technical', reason: 'x' })).status).toBe(400);
  });
});

describe('storm safety', () => {
  it('pages a person once, then once more per window, however many incidents open', async () => {
    // A fresh installation, so no earlier page to this person counts.
    const storm = await startTestApp();
    onTestFinished(() => storm.close());
    const token = await storm.tokenFor('service_desk');
    for (let i = 0; i < 20; i += 1) {
      await storm.http.post('/api/v1/incidents').set('Authorization', `Bearer ${token}`).send({ title: `Storm ${i}`, client: 'northwind', severity: 1, source: 'staff' }).expect(201);
    }
    await storm.app.services.timers.runDue();
    const rows = await storm.orm.em.fork().getConnection().execute<{ recipient: string; combined_count: number; send_after: Date }[]>(
      "select recipient, combined_count, send_after from notification where kind = 'escalation.page' order by id",
    );
    const recipients = new Set(rows.map((row) => row.recipient));
    expect(recipients.size).toBe(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.combined_count).toBe(1);
    expect(rows[1]!.combined_count).toBe(19);
  });
});

describe('on call', () => {
  it('says who is on call now and next, and an override changes who is paged', async () => {
    t.clock.set('2026-03-11T10:00:00Z');
    const before = (await t.http.get('/api/v1/oncall').set(as())).body.rotations.find((r: { id: string }) => r.id === 'service-desk-primary');
    expect(before.now.email).toMatch(/@precision\.example$/);
    expect(before.next).toHaveLength(3);
    const override = await t.http
      .post('/api/v1/oncall/service-desk-primary/overrides')
      .set(as())
      .send({ email: 'stand.in@precision.example', start: '2026-03-11T09:00:00Z', end: '2026-03-11T18:00:00Z', reason: 'sick day' });
    expect(override.status).toBe(201);
    const after = (await t.http.get('/api/v1/oncall').set(as())).body.rotations.find((r: { id: string }) => r.id === 'service-desk-primary');
    expect(after.now).toMatchObject({ email: 'stand.in@precision.example', override: true });
    const id = await open({ severity: 1 });
    await fire();
    expect((await pages(id)).map((p) => p.recipient)).toContain('stand.in@precision.example');
  });
});

describe('SLA clocks (INC-07)', () => {
  it('warns at 75% and 90%, records the breach and escalates, and keeps "breached" after the late response', async () => {
    t.clock.set('2026-03-12T10:00:00Z');
    const id = await open({ severity: 1 });
    let response = (await detail(id)).sla.find((c: { kind: string }) => c.kind === 'response');
    expect(response).toMatchObject({ state: 'running', targetMs: minutes(15), calendar: '24x7', dueAt: '2026-03-12T10:15:00.000Z', outcome: null });

    t.clock.advance(minutes(12));
    await fire();
    t.clock.advance(minutes(2));
    await fire();
    let incident = await detail(id);
    const warnings = incident.timeline.filter((e: { type: string; message: string }) => e.type === 'sla' && e.message.startsWith('response SLA at'));
    expect(warnings.map((e: { message: string }) => /at (\d+)%/.exec(e.message)![1])).toEqual(['75', '90']);

    t.clock.advance(minutes(2));
    await fire();
    incident = await detail(id);
    response = incident.sla.find((c: { kind: string }) => c.kind === 'response');
    expect(response).toMatchObject({ outcome: 'breached', breachedAt: '2026-03-12T10:16:00.000Z' });
    expect(incident.assignedTeam).toBe('service-desk');
    expect(incident.timeline.some((e: { message: string }) => e.message.startsWith('managerial escalation: response SLA breached'))).toBe(true);
    expect(await t.scrapeMetrics()).toMatch(/incidentd_sla_breaches_total\{client="northwind",severity="1",kind="response"\} [1-9]/);

    await t.http.post(`/api/v1/incidents/${id}/acknowledge`).set(as()).send({}).expect(200);
    response = (await detail(id)).sla.find((c: { kind: string }) => c.kind === 'response');
    expect(response).toMatchObject({ state: 'stopped', outcome: 'breached' });
  });

  it('counts business hours only, and pauses while waiting on the client', async () => {
    t.clock.set('2026-03-13T16:00:00Z'); // Friday 16:00 London
    const id = await open({ severity: 3 });
    let response = (await detail(id)).sla.find((c: { kind: string }) => c.kind === 'response');
    // 4 business hours: Friday 16:00-18:00, then Monday 08:00-10:00.
    expect(response).toMatchObject({ calendar: 'business', dueAt: '2026-03-16T10:00:00.000Z' });

    t.clock.set('2026-03-16T09:00:00Z'); // Monday 09:00: 3h used
    await t.http.post(`/api/v1/incidents/${id}/awaiting-client`).set(as()).send({ waiting: true, reason: 'asked for screenshots' }).expect(200);
    response = (await detail(id)).sla.find((c: { kind: string }) => c.kind === 'response');
    expect(response).toMatchObject({ state: 'paused', dueAt: null, consumedMs: minutes(180) });

    t.clock.set('2026-03-16T13:00:00Z');
    await fire();
    expect((await detail(id)).sla.find((c: { kind: string }) => c.kind === 'response').outcome).toBeNull();
    await t.http.post(`/api/v1/incidents/${id}/awaiting-client`).set(as()).send({ waiting: false, reason: 'screenshots received' }).expect(200);
    response = (await detail(id)).sla.find((c: { kind: string }) => c.kind === 'response');
    expect(response).toMatchObject({ state: 'running', dueAt: '2026-03-16T14:00:00.000Z', remainingMs: minutes(60) });

    t.clock.set('2026-03-16T13:30:00Z');
    await t.http.post(`/api/v1/incidents/${id}/assign`).set(as()).send({ team: 'tier2' }).expect(200);
    response = (await detail(id)).sla.find((c: { kind: string }) => c.kind === 'response');
    expect(response).toMatchObject({ state: 'stopped', outcome: 'met', consumedMs: minutes(210) });
  });

  it('records the resolution target as met when resolved in time', async () => {
    t.clock.set('2026-03-17T10:00:00Z');
    const id = await open({ severity: 2 });
    t.clock.advance(minutes(90));
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'resolved', resolutionSummary: 'failed over' }).expect(200);
    const resolution = (await detail(id)).sla.find((c: { kind: string }) => c.kind === 'resolution');
    expect(resolution).toMatchObject({ state: 'stopped', outcome: 'met', consumedMs: minutes(90), target: '8h' });
  });
});
