import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let desk: string;
let manager: string;
let securityAnalyst: string;
let cabMember: string;
let northwindContact: string;

beforeAll(async () => {
  t = await startTestApp();
  desk = await t.tokenFor('service_desk', { email: 'desk@test.example' });
  manager = await t.tokenFor('incident_manager', { email: 'im@test.example' });
  cabMember = await t.tokenFor('cab_member', { email: 'cab@test.example' });
  // A member of the configured security team (teams[security].members in the example config).
  securityAnalyst = await t.tokenFor('tier3', { email: 'ravi.menon@precision.example' });
  northwindContact = await t.tokenFor('client_contact', { clientId: 'northwind', email: 'it@northwind.example' });
});
afterAll(async () => t?.close());

const as = (token: string) => ({ Authorization: `Bearer ${token}` });

async function logCall(overrides: Record<string, unknown> = {}) {
  const res = await t.http
    .post('/api/v1/incidents')
    .set(as(desk))
    .send({ title: 'Shop checkout shows error 500', client: 'northwind', services: ['nw-webshop'], severity: 2, source: 'phone', reportedBy: 'Sam at Northwind, ext 42', impact: 'No online orders since 09:40', ...overrides });
  expect(res.status).toBe(201);
  return res.body;
}

describe('logging an incident by hand (INC-01, INC-02)', () => {
  it('records client, services, symptoms, time, source, reporter and impact', async () => {
    const created = await logCall();
    expect(created).toMatchObject({ clientId: 'northwind', serviceIds: ['nw-webshop'], severity: 2, urgency: 'high', priority: 'P2', state: 'new', source: 'phone', reportedBy: 'Sam at Northwind, ext 42', impact: 'No online orders since 09:40', category: 'other' });
    const fetched = await t.http.get(`/api/v1/incidents/${created.id}`).set(as(desk));
    expect(fetched.body.timeline[0]).toMatchObject({ type: 'incident.created', actor: { name: 'desk@test.example' }, message: expect.stringContaining('logged from phone') });
  });

  it('lists every problem of a bad request', async () => {
    const res = await t.http.post('/api/v1/incidents').set(as(desk)).send({ title: 'x', client: 'nope', severity: 7, source: 'pigeon' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['severity', 'source', 'title']);
    const unknownClient = await t.http.post('/api/v1/incidents').set(as(desk)).send({ title: 'Printer on fire', client: 'nope', severity: 3, source: 'email', services: ['gx-email'] });
    expect(unknownClient.status).toBe(400);
    expect(unknownClient.body.error.details).toEqual([
      { path: 'client', message: 'unknown client "nope"' },
      { path: 'services.0', message: 'no service "gx-email" of this client' },
    ]);
  });

  it('is not for roles outside incident handling', async () => {
    expect((await t.http.post('/api/v1/incidents').set(as(cabMember)).send({})).status).toBe(403);
  });
});

describe('working an incident', () => {
  it('acknowledges (starting investigation), assigns, notes, mitigates and resolves with a summary', async () => {
    const { id } = await logCall();
    const ack = await t.http.post(`/api/v1/incidents/${id}/acknowledge`).set(as(desk)).send({});
    expect(ack.body).toMatchObject({ state: 'investigating', acknowledgedBy: 'desk@test.example' });
    expect((await t.http.post(`/api/v1/incidents/${id}/acknowledge`).set(as(desk)).send({})).status).toBe(409);

    const assigned = await t.http.post(`/api/v1/incidents/${id}/assign`).set(as(desk)).send({ team: 'tier2', user: 'im@test.example' });
    expect(assigned.body).toMatchObject({ assignedTeam: 'tier2', firstAssignedAt: expect.any(String) });
    expect((await t.http.post(`/api/v1/incidents/${id}/assign`).set(as(desk)).send({ team: 'astronauts' })).status).toBe(400);

    await t.http.post(`/api/v1/incidents/${id}/notes`).set(as(desk)).send({ text: 'Checkout pods OOM-killed; raising memory limit', visibility: 'internal' }).expect(201);
    await t.http.post(`/api/v1/incidents/${id}/notes`).set(as(desk)).send({ text: 'We are working on restoring checkout.', visibility: 'public' }).expect(201);
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as(desk)).send({ to: 'mitigated', reason: 'traffic moved to the standby cluster' }).expect(200);

    const noSummary = await t.http.post(`/api/v1/incidents/${id}/transition`).set(as(desk)).send({ to: 'resolved' });
    expect(noSummary.status).toBe(409);
    expect(noSummary.body.error.message).toContain('resolution summary');
    const resolved = await t.http.post(`/api/v1/incidents/${id}/transition`).set(as(desk)).send({ to: 'resolved', resolutionSummary: 'Memory limit raised to 2 GiB; checkout healthy' });
    expect(resolved.body).toMatchObject({ state: 'resolved', resolutionSummary: 'Memory limit raised to 2 GiB; checkout healthy', allowedTransitions: ['investigating', 'closed'] });

    const illegal = await t.http.post(`/api/v1/incidents/${id}/transition`).set(as(desk)).send({ to: 'mitigated' });
    expect(illegal.status).toBe(409);
    expect(illegal.body.error).toMatchObject({ code: 'conflict', message: 'cannot move from resolved to mitigated; allowed: investigating, closed', details: { from: 'resolved', to: 'mitigated' } });

    const detail = await t.http.get(`/api/v1/incidents/${id}`).set(as(manager));
    // (SLA, escalation and client communication entries are interleaved; they are tested on their own.)
    const staffSteps = detail.body.timeline.map((e: { type: string }) => e.type).filter((type: string) => !['sla', 'escalation', 'communication'].includes(type));
    expect(staffSteps).toEqual(['incident.created', 'acknowledged', 'state.changed', 'assigned', 'note', 'note', 'state.changed', 'state.changed']);
    const audit = await t.orm.em.fork().getConnection().execute<{ action: string }[]>('select action from audit_event where entity_id = ? order by id', [id]);
    expect(audit.map((a) => a.action)).toEqual(['incident.created', 'incident.acknowledged', 'incident.assigned', 'incident.note_added', 'incident.note_added', 'incident.mitigated', 'incident.resolved']);
  });

  it('overrides severity and priority only with a reason, recorded in the audit trail', async () => {
    const { id } = await logCall({ severity: 3 });
    expect((await t.http.post(`/api/v1/incidents/${id}/severity`).set(as(desk)).send({ severity: 1 })).status).toBe(400);
    const raised = await t.http.post(`/api/v1/incidents/${id}/severity`).set(as(desk)).send({ severity: 1, reason: 'all stores affected' });
    expect(raised.body).toMatchObject({ severity: 1, priority: 'P2', pirRequired: true });
    const overridden = await t.http.post(`/api/v1/incidents/${id}/priority`).set(as(manager)).send({ priority: 'P1', reason: 'Black Friday' });
    expect(overridden.body).toMatchObject({ priority: 'P1', priorityOverridden: true });
    const rows = await t.orm.em.fork().getConnection().execute<{ before: { priority: string }; after: { priority: string } }[]>(
      "select before, after from audit_event where entity_id = ? and action = 'incident.priority_overridden'",
      [id],
    );
    expect(rows[0]).toMatchObject({ before: { priority: 'P2' }, after: { priority: 'P1' } });
  });

  it('refuses a stale write (expectedVersion) with 409 and the current version', async () => {
    const { id, version } = await logCall();
    await t.http.post(`/api/v1/incidents/${id}/acknowledge`).set(as(desk)).send({ expectedVersion: version }).expect(200);
    const stale = await t.http.post(`/api/v1/incidents/${id}/severity`).set(as(desk)).send({ severity: 1, reason: 'worse', expectedVersion: version });
    expect(stale.status).toBe(409);
    expect(stale.body.error.details.current).toBeGreaterThan(version);
  });
});

describe('listing', () => {
  it('filters by state, client, severity, priority, category and paginates', async () => {
    await logCall({ client: 'globex', services: ['gx-email'], severity: 4, category: 'software_bug' });
    const res = await t.http.get('/api/v1/incidents?client=globex&severity=4&category=software_bug&state=new&pageSize=1').set(as(desk));
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({ clientId: 'globex', severity: 4, category: 'software_bug' });
    expect(res.body).toMatchObject({ page: 1, pageSize: 1, total: 1 });
    const bad = await t.http.get('/api/v1/incidents?state=sleeping&severity=9').set(as(desk));
    expect(bad.status).toBe(400);
  });
});

describe('security hand-off (INC-14)', () => {
  it('narrows visibility to the security team and admins', async () => {
    const { id } = await logCall({ title: 'Unusual admin logins on nw-db-01' });
    const flagged = await t.http.post(`/api/v1/incidents/${id}/security`).set(as(desk)).send({ reason: 'possible credential theft' });
    expect(flagged.body.security).toBe(true);
    expect((await t.http.get(`/api/v1/incidents/${id}`).set(as(desk))).status).toBe(404);
    expect((await t.http.get(`/api/v1/incidents/${id}`).set(as(securityAnalyst))).status).toBe(200);
    const list = await t.http.get('/api/v1/incidents?pageSize=200').set(as(desk));
    expect(list.body.items.some((i: { id: string }) => i.id === id)).toBe(false);
    expect((await t.http.get(`/api/v1/incidents/${id}`).set(as(northwindContact))).status).toBe(404);
  });
});

describe('client contacts', () => {
  it('see their own client\'s incidents with public updates only: no labels, CIs, assignees or internal notes', async () => {
    const key = '{}:{alertname="ShopDown"}';
    await t.http.post('/api/v1/alerts/alertmanager').set(as(AM_TOKEN)).send(alertmanagerPayload(key, [{ labels: { alertname: 'ShopDown', client: 'northwind', ci: 'nw-web-01', severity: 'critical', secret_label: 'db-password-hint' } }]));
    await t.app.services.alertProcessor.drain();
    const [{ number }] = await t.orm.em.fork().getConnection().execute<{ number: number }[]>("select number from incident where alertname = 'ShopDown'");
    const id = `INC-${number}`;
    await t.http.post(`/api/v1/incidents/${id}/notes`).set(as(desk)).send({ text: 'root password rotated on nw-db-01', visibility: 'internal' });
    await t.http.post(`/api/v1/incidents/${id}/notes`).set(as(desk)).send({ text: 'The web shop is unavailable; we are on it.', visibility: 'public' });
    await t.http.post(`/api/v1/incidents/${id}/assign`).set(as(desk)).send({ user: 'im@test.example' });

    const view = await t.http.get(`/api/v1/incidents/${id}`).set(as(northwindContact));
    expect(view.status).toBe(200);
    expect(view.body.updates.map((u: { message: string }) => u.message)).toEqual(['The web shop is unavailable; we are on it.']);
    const text = JSON.stringify(view.body);
    for (const leak of ['nw-web-01', 'secret_label', 'root password', 'im@test.example', 'assigned', 'labels']) expect(text).not.toContain(leak);

    const globex = await logCall({ client: 'globex', services: ['gx-email'] });
    expect((await t.http.get(`/api/v1/incidents/${globex.id}`).set(as(northwindContact))).status).toBe(404);
    const list = await t.http.get('/api/v1/incidents?client=globex').set(as(northwindContact));
    expect(list.body.items).toEqual([]);
    expect((await t.http.post(`/api/v1/incidents/${id}/acknowledge`).set(as(northwindContact)).send({})).status).toBe(403);
  });
});

describe('recurring incidents (INC-12)', () => {
  it('flags the third incident of the same client, service and alert within 30 days and requires a review', async () => {
    const fire = async (n: number) => {
      const key = `{}:{alertname="CertExpiring",n="${n}"}`;
      const labels = { alertname: 'CertExpiring', client: 'globex', service: 'gx-trading-portal', severity: 'warning' };
      await t.http.post('/api/v1/alerts/alertmanager').set(as(AM_TOKEN)).send(alertmanagerPayload(key, [{ labels, startsAt: `2026-03-0${n}T10:00:00.000Z` }]));
      await t.app.services.alertProcessor.drain();
      const rows = await t.orm.em.fork().getConnection().execute<{ number: number }[]>('select number from incident where dedup_key like ?', [`%${key}%`]);
      return (await t.http.get(`/api/v1/incidents/INC-${rows[0]!.number}`).set(as(desk))).body;
    };
    expect((await fire(1)).recurring).toBe(false);
    expect((await fire(2)).recurring).toBe(false);
    const third = await fire(3);
    expect(third).toMatchObject({ recurring: true, pirRequired: true });
    expect(third.timeline.find((e: { type: string }) => e.type === 'recurring.flagged').message).toContain('3 incidents like this for globex within 30d');
  });
});

describe('OpenAPI', () => {
  it('documents every incident and intake route with its schema', async () => {
    const doc = (await t.http.get('/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/incidents', '/incidents/{id}', '/incidents/{id}/acknowledge', '/incidents/{id}/assign', '/incidents/{id}/transition', '/incidents/{id}/notes', '/incidents/{id}/severity', '/incidents/{id}/priority', '/incidents/{id}/category', '/alerts/alertmanager', '/alerts/grafana', '/alerts/generic']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/incidents'].post.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['title', 'client', 'severity', 'source']));
    expect(doc.paths['/incidents'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['state', 'client', 'severity', 'priority', 'category', 'since', 'page']));
    expect(doc.paths['/alerts/alertmanager'].post.description).toContain('alertmanager');
  });
});

describe('closure (INC-05)', () => {
  it('closes a resolved incident once its validation window has passed, and not before', async () => {
    const { id } = await logCall();
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as(desk)).send({ to: 'resolved', resolutionSummary: 'cache flushed' }).expect(200);
    t.clock.advance(2 * 86_400_000);
    await t.app.services.incidents.closeExpiredValidations();
    expect((await t.http.get(`/api/v1/incidents/${id}`).set(as(desk))).body.state).toBe('resolved');
    t.clock.advance(1.5 * 86_400_000);
    await t.app.services.incidents.closeExpiredValidations();
    const closed = (await t.http.get(`/api/v1/incidents/${id}`).set(as(desk))).body;
    expect(closed).toMatchObject({ state: 'closed', closedAt: t.clock.now().toISOString() });
    expect(closed.timeline.at(-1)).toMatchObject({ actor: { type: 'system' }, message: 'resolved -> closed: validation window of 3d passed without objection' });
  });
});
