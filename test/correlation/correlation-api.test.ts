import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { as, rfc, startChangeTestApp } from '../changes/change-fixtures';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { recordImplementedChange } from '../support/implemented-change';
import type { TestApp } from '../support/test-app';

// The example configuration: nw-web-01 depends on nw-lb-01 and nw-db-01; the web shop
// service runs on nw-web-01/02, nw-lb-01 and nw-db-01.
let t: TestApp;
let setup: Awaited<ReturnType<typeof startChangeTestApp>>;
let responder: string;

beforeAll(async () => {
  setup = await startChangeTestApp();
  t = setup.t;
  responder = await t.tokenFor('incident_manager', { email: 'helen.carter@precision.example' });
});
afterAll(async () => {
  t?.app.services.statusPages.stop();
  await t?.close();
});

const act = (token: string, id: string, action: string, body: Record<string, unknown> = {}) => setup.steps.act(token, id, action, body);

const implemented = (fields: Parameters<typeof recordImplementedChange>[1]) => recordImplementedChange(t, fields);

let alertCounter = 0;
async function alertOn(ci: string, at: string, severity = 'critical') {
  alertCounter += 1;
  t.clock.set(at);
  const payload = alertmanagerPayload(`{}:{alertname="CheckoutErrors${alertCounter}"}`, [{ labels: { alertname: `CheckoutErrors${alertCounter}`, client: 'northwind', ci, severity }, startsAt: at }]);
  await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(payload).expect(202);
  await t.app.services.alertProcessor.drain();
  const list = await t.http.get('/api/v1/incidents?client=northwind&open=true').set(as(responder));
  const incident = list.body.items.find((candidate: { alertname: string }) => candidate.alertname === `CheckoutErrors${alertCounter}`);
  return (await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body;
}

describe('suspect changes (REL-01)', () => {
  it('ranks the change on an upstream CI shortly before the first alert first, and says why', async () => {
    const dbChange = await implemented({ cis: ['nw-db-01'], start: '2026-03-10T20:05:00Z', end: '2026-03-10T20:40:00Z' });
    const noise = await implemented({ cis: ['nw-fw-01'], start: '2026-03-09T10:00:00Z', end: '2026-03-09T10:30:00Z', riskLevel: 'low' });
    const incident = await alertOn('nw-web-01', '2026-03-10T20:54:00Z');
    // Recorded as successful: confirming it records how it really went, failed or with issues.
    expect(incident.suspectChanges[0]).toMatchObject({ changeId: dbChange, relation: 'upstream', status: 'suspect', rank: 1, outcomeChoices: ['failed', 'successful_with_issues'] });
    expect(incident.suspectChanges[0].reason).toBe(`${dbChange} completed 14 min before the first alert on nw-db-01, which nw-web-01 depends on; risk high; outcome successful`);
    // The firewall is two hops up (web -> load balancer -> firewall) and a day older: a weaker suspect.
    expect(incident.suspectChanges[1]).toMatchObject({ changeId: noise, relation: 'upstream' });
    expect(incident.suspectChanges[1].score).toBeLessThan(incident.suspectChanges[0].score);
    expect(incident.timeline.some((event: { type: string; message: string }) => event.type === 'correlation' && event.message.startsWith(`top suspect change: ${dbChange}`))).toBe(true);

    // Confirmed: the change's outcome is corrected, its backout plan shows, a review is required.
    const confirmed = await t.http.post(`/api/v1/incidents/${incident.id}/suspects/${dbChange}/confirm`).set(as(responder)).send({ note: 'memory settings starved the connection pool' });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.pirRequired).toBe(true);
    const after = (await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body;
    expect(after.suspectChanges[0]).toMatchObject({ changeId: dbChange, status: 'confirmed', backoutPlan: 'restore the previous postgresql.conf and restart', decidedBy: 'helen.carter@precision.example', outcomeChoices: [] });
    const change = (await t.http.get(`/api/v1/changes/${dbChange}`).set(as(setup.manager))).body;
    expect(change.outcome).toBe('successful_with_issues');
    const kpis = (await t.http.get('/api/v1/changes/kpis?client=northwind&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z').set(as(setup.manager))).body;
    expect(kpis.followedByIncidents.confirmedCause).toBe(1);
    expect(kpis.successRate).toMatchObject({ completed: 2, successful: 2 });
    const linked = (await t.http.get(`/api/v1/changes/${dbChange}/incidents`).set(as(setup.manager))).body;
    expect(linked.incidents).toEqual([expect.objectContaining({ incidentId: incident.id, link: 'confirmed' })]);
    expect((await t.http.post(`/api/v1/incidents/${incident.id}/suspects/${dbChange}/dismiss`).set(as(responder)).send({ reason: 'second thoughts' })).status).toBe(409);
  });

  it('lets responders dismiss a suspect with a reason, and shows none when nothing changed in the look-back', async () => {
    const quiet = await alertOn('nw-fw-01', '2026-03-20T09:00:00Z');
    expect(quiet.suspectChanges).toEqual([]);
    const lbChange = await implemented({ cis: ['nw-lb-01'], start: '2026-03-28T20:10:00Z', end: '2026-03-28T20:30:00Z', riskLevel: 'medium' });
    const incident = await alertOn('nw-fw-01', '2026-03-29T08:00:00Z');
    // The load balancer depends on the firewall: downstream of the alerting CI.
    expect(incident.suspectChanges[0]).toMatchObject({ changeId: lbChange, relation: 'downstream' });
    const dismissed = await t.http.post(`/api/v1/incidents/${incident.id}/suspects/${lbChange}/dismiss`).set(as(responder)).send({ reason: 'firewall hardware fault confirmed by vendor' });
    expect(dismissed.status).toBe(200);
    expect((await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body.suspectChanges[0]).toMatchObject({ status: 'dismissed', decisionNote: 'firewall hardware fault confirmed by vendor' });
    expect((await t.http.post(`/api/v1/incidents/${incident.id}/suspects/CHG-999999/confirm`).set(as(responder)).send({})).status).toBe(404);
  });

  it('records a confirmed deploy without an approved RFC as an unauthorized change (REL-02)', async () => {
    // nw-web-02 is production: a deploy naming no RFC is unauthorized already (REL-04);
    // a staging-like path is simulated by clearing the flag, as for a deploy on a CI that needs none.
    t.clock.set('2026-04-02T09:00:00Z');
    const deploy = await t.http.post('/api/v1/change-events').set('Authorization', 'Bearer dev-only-change-events-token-change-me').send({ id: 'run-4711', summary: 'checkout-api v2.3.1', source: 'gitlab', ci: 'nw-web-02', time: '2026-04-02T09:00:00Z' });
    expect([200, 201]).toContain(deploy.status);
    const incident = await alertOn('nw-web-02', '2026-04-02T09:20:00Z');
    const suspect = incident.suspectChanges.find((candidate: { kind: string }) => candidate.kind === 'deploy');
    expect(suspect.reason).toMatch(/^deploy "checkout-api v2\.3\.1" deployed 20 min before the first alert on nw-web-02, the same CI/);
    // No RFC behind it: no outcome to record.
    expect(suspect.outcomeChoices).toEqual([]);
    await t.http.post(`/api/v1/incidents/${incident.id}/suspects/${suspect.changeId}/confirm`).set(as(responder)).send({}).expect(200);
    const unauthorized = (await t.http.get('/api/v1/change-events?unauthorized=true').set(as(setup.manager))).body.items as { summary: string }[];
    expect(unauthorized.map((event) => event.summary)).toContain('checkout-api v2.3.1');
  });
});

describe('alerts during an in-progress change', () => {
  it('holds them (no paging, SLA waiting) and promotes the incident when still firing after the window, telling the implementer and change managers', async () => {
    // Through the workflow: a web server change (the change manager alone approves it), started by its implementer.
    const change = await setup.steps.scheduled(setup.requester, setup.manager, rfc({ testResults: 'staging: smoke tests green', window: { start: '2026-05-05T20:00:00Z', end: '2026-05-05T22:00:00Z' } }));
    t.clock.set('2026-05-05T20:02:00Z');
    expect((await act(setup.implementer, change, 'start')).body.state).toBe('in_progress');
    const incident = await alertOn('nw-web-01', '2026-05-05T20:10:00Z');
    expect(incident.expectedDuringChange).toBe(change);
    expect(incident.timeline.some((event: { message: string }) => event.message.startsWith(`expected during ${change}`))).toBe(true);
    expect(incident.sla.every((clock: { state: string }) => clock.state === 'paused')).toBe(true);
    t.clock.set('2026-05-05T21:00:00Z');
    await t.app.services.timers.runDue();
    const pages = await t.orm.em.fork().getConnection().execute<{ kind: string }[]>("select kind from notification n join incident i on i.id = n.incident_id where i.number = ? and n.kind like 'escalation.%'", [incident.number]);
    expect(pages).toEqual([]);

    // The window ends with the alert still firing: a normal incident, possibly caused by the change.
    t.clock.set('2026-05-05T22:00:01Z');
    await t.app.services.timers.runDue();
    await t.app.services.timers.runDue();
    const promoted = (await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body;
    expect(promoted.expectedDuringChange).toBeNull();
    expect(promoted.suspectChanges[0]).toMatchObject({ changeId: change, relation: 'same_ci' });
    expect(promoted.sla.some((clock: { state: string }) => clock.state === 'running')).toBe(true);
    expect(promoted.escalation).toMatchObject({ status: 'active' });
    const told = await t.orm.em.fork().getConnection().execute<{ recipient: string }[]>("select recipient from notification where kind = 'correlation.promoted'");
    expect(told.map((row) => row.recipient).sort()).toEqual(['impl@test.example', 'paul.mensah@precision.example']);
  });

  it('pages nobody when a held alert fires again inside the window, and starts escalation once when the window ends', async () => {
    const change = await implemented({ cis: ['nw-db-01'], start: '2026-06-16T20:01:00Z', end: null });
    const incident = await alertOn('nw-db-01', '2026-06-16T20:05:00Z');
    expect(incident.expectedDuringChange).toBe(change);
    const group = `{}:{alertname="CheckoutErrors${alertCounter}"}`;
    const labels = { alertname: `CheckoutErrors${alertCounter}`, client: 'northwind', ci: 'nw-db-01', severity: 'critical' };
    t.clock.set('2026-06-16T20:10:00Z');
    await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(alertmanagerPayload(group, [{ labels, status: 'resolved', startsAt: '2026-06-16T20:05:00Z', endsAt: '2026-06-16T20:09:00Z' }])).expect(202);
    await t.app.services.alertProcessor.drain();
    t.clock.set('2026-06-16T20:20:00Z');
    await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(alertmanagerPayload(group, [{ labels, startsAt: '2026-06-16T20:19:00Z' }])).expect(202);
    await t.app.services.alertProcessor.drain();
    let now = (await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body;
    expect(now).toMatchObject({ state: 'investigating', expectedDuringChange: change });
    expect(now.escalation?.status ?? 'none').not.toBe('active');
    t.clock.set('2026-06-16T23:01:01Z');
    await t.app.services.timers.runDue();
    now = (await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body;
    expect(now).toMatchObject({ expectedDuringChange: null, escalation: { status: 'active', step: 1, round: 1 } });
  });

  it('drafts the review when a cause is confirmed after the incident was resolved (IMP-06)', async () => {
    const change = await implemented({ cis: ['nw-web-02'], start: '2026-06-20T08:00:00Z', end: '2026-06-20T08:20:00Z', riskLevel: 'low' });
    const incident = await alertOn('nw-web-02', '2026-06-20T09:00:00Z', 'warning');
    await t.http.post(`/api/v1/incidents/${incident.id}/transition`).set(as(responder)).send({ to: 'resolved', resolutionSummary: 'restarted' }).expect(200);
    expect((await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body.review).toBeNull();
    await t.http.post(`/api/v1/incidents/${incident.id}/suspects/${change}/confirm`).set(as(responder)).send({ outcome: 'failed' }).expect(200);
    const after = (await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body;
    expect(after.review).toMatchObject({ status: 'draft', reason: 'change' });
    expect((await t.http.get(`/api/v1/changes/${change}`).set(as(setup.manager))).body.outcome).toBe('failed');
  });

  it('pages as usual when the change declared that its alerts are not expected', async () => {
    const change = await implemented({ cis: ['nw-db-01'], start: '2026-06-09T20:01:00Z', end: null, alertsDuringWindow: 'page' });
    const incident = await alertOn('nw-db-01', '2026-06-09T20:05:00Z');
    expect(incident.expectedDuringChange).toBeNull();
    expect(incident.escalation).toMatchObject({ status: 'active' });
    // Still the best suspect: in progress on the same CI. Its outcome is the implementer's to record.
    expect(incident.suspectChanges[0]).toMatchObject({ changeId: change, relation: 'same_ci', outcomeChoices: [] });
  });

  it('lets expected alerts that clear within the window go without a page', async () => {
    const change = await implemented({ cis: ['nw-db-01'], start: '2026-06-02T20:01:00Z', end: null });
    const incident = await alertOn('nw-db-01', '2026-06-02T20:05:00Z', 'warning');
    expect(incident.expectedDuringChange).toBe(change);
    const resolved = alertmanagerPayload(`{}:{alertname="CheckoutErrors${alertCounter}"}`, [{ labels: { alertname: `CheckoutErrors${alertCounter}`, client: 'northwind', ci: 'nw-db-01', severity: 'warning' }, status: 'resolved', startsAt: '2026-06-02T20:05:00Z', endsAt: '2026-06-02T20:09:00Z' }]);
    t.clock.set('2026-06-02T20:10:00Z');
    await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(resolved).expect(202);
    await t.app.services.alertProcessor.drain();
    t.clock.set('2026-06-02T22:00:01Z');
    await t.app.services.timers.runDue();
    const after = (await t.http.get(`/api/v1/incidents/${incident.id}`).set(as(responder))).body;
    expect(after.state).toBe('resolved');
    expect(after.escalation?.status ?? 'none').not.toBe('active');
    const pages = await t.orm.em.fork().getConnection().execute<{ kind: string }[]>("select kind from notification n join incident i on i.id = n.incident_id where i.number = ? and n.kind like 'escalation.%'", [after.number]);
    expect(pages).toEqual([]);
  });
});
