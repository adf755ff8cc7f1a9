import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ical from 'node-ical';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let requester: string;
let manager: string;
let ecabMember: string;
let security: string;

beforeAll(async () => {
  t = await startTestApp();
  requester = await t.tokenFor('tier2', { email: 'req@test.example' });
  await t.tokenFor('implementer', { email: 'impl@test.example' });
  manager = await t.tokenFor('change_manager', { email: 'cm@test.example' });
  ecabMember = await t.tokenFor('tier3', { email: 'helen.carter@precision.example' });
  security = await t.tokenFor('tier3', { email: 'ravi.menon@precision.example' });
});
afterAll(async () => t?.close());

const lowRisk = { complexity: 'low', rollback: 'easy', testedInNonProduction: true };
const as = (token: string) => ({ Authorization: `Bearer ${token}` });
const act = (token: string, id: string, action: string, body: Record<string, unknown> = {}) => t.http.post(`/api/v1/changes/${id}/${action}`).set(as(token)).send(body);
const notifications = (kind: string) =>
  t.orm.em.fork().getConnection().execute<{ recipient: string; subject: string; body: string }[]>('select recipient, subject, body from notification where kind = ? order by id', [kind]);

async function create(body: Record<string, unknown>) {
  const res = await t.http.post('/api/v1/changes').set(as(requester)).send({ implementers: ['impl@test.example'], justification: 'needed', description: 'work', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

describe('client approval by signed e-mail link (CHG-06)', () => {
  it('sends each approver a link; GET only shows the change, POST decides once', async () => {
    const id = await create({
      title: 'Patch the file server',
      clients: ['acme-health'],
      cis: ['ah-fs-01'],
      implementationPlan: 'Install KB5034441',
      testPlan: 'Open shares',
      backoutPlan: 'Uninstall KB',
      window: { start: '2026-03-22T14:00:00Z', end: '2026-03-22T16:00:00Z' },
      risk: { complexity: 'low', rollback: 'easy', testedInNonProduction: true },
    });
    await act(requester, id, 'submit').expect(200);
    await act(manager, id, 'assess', { notes: 'monthly patch' }).expect(200);
    const requests = (await notifications('change.approval_request')).filter((n) => n.subject.includes(id) && n.recipient.endsWith('acmehealth.example'));
    expect(requests.map((n) => n.recipient).sort()).toEqual(['kevin.obrien@acmehealth.example', 'maria.lopez@acmehealth.example']);
    const link = /http:\/\/[^\s]+\/changes\/approvals\/(\S+)/.exec(requests[0]!.body)!;
    const path = `/changes/approvals/${link[1]}`;

    const page = await t.http.get(path);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Patch the file server');
    expect(page.text).toContain('<form method="post">');
    // Opening the link decided nothing.
    expect((await t.http.get(`/api/v1/changes/${id}`).set(as(manager))).body.approvals.find((a: { group: string }) => a.group === 'client:acme-health').status).toBe('pending');

    const decided = await t.http.post(path).type('form').send({ decision: 'approve', rationale: 'Clinic closed on Sunday', conditions: 'Call the on-site lead first' });
    expect(decided.status).toBe(200);
    expect(decided.text).toContain('your decision (approve) was recorded');
    expect((await t.http.post(path).type('form').send({ decision: 'reject', rationale: 'changed my mind' })).status).toBe(404);
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(manager));
    expect(detail.body.approvals.find((a: { group: string }) => a.group === 'client:acme-health')).toMatchObject({ status: 'approved_with_conditions', viaEmailLink: true, rationale: 'Clinic closed on Sunday' });
    expect(detail.body.conditions).toContain('Call the on-site lead first');

    expect((await t.http.get(`${path.slice(0, -3)}xyz`)).status).toBe(404);
  });
});

describe('emergency changes (CHG-08)', () => {
  it('go to the ECAB, escalate when it misses its response target, and owe a retrospective review', async () => {
    const id = await create({ title: 'Hotfix payment API', type: 'emergency', clients: ['northwind'], cis: ['nw-pay-api-01'], implementationPlan: 'Deploy 4.2.1' });
    const submitted = await act(requester, id, 'submit');
    expect(submitted.body).toMatchObject({ state: 'awaiting_approval', review: { required: true } });
    t.clock.advance(61 * 60_000);
    await t.app.services.timers.runDue();
    const escalations = await notifications('change.ecab_escalation');
    expect(escalations.map((n) => n.recipient)).toEqual(expect.arrayContaining(['daniel.reyes@precision.example', 'cm@test.example']));
    expect((await act(security, id, 'approve', { rationale: 'go ahead' })).status).toBe(403);
    expect((await act(ecabMember, id, 'approve', { rationale: 'outage ongoing, approved' })).body.state).toBe('approved');
    const pending = await t.http.get('/api/v1/changes?reviewPending=true&type=emergency').set(as(manager));
    expect(pending.body.items.map((c: { id: string }) => c.id)).toContain(id);
  });
});

describe('standard changes from the catalog (CHG-02, CHG-10)', () => {
  const windowsPatch = { title: 'Patch the domain controller', standardChange: 'windows-patching', risk: lowRisk, clients: ['globex'], cis: ['gx-dc-01'], window: { start: '2026-03-07T09:00:00Z', end: '2026-03-07T11:00:00Z' } };
  it('are pre-approved when they stay inside the template', async () => {
    const id = await create(windowsPatch);
    const submitted = await act(requester, id, 'submit');
    expect(submitted.body).toMatchObject({ type: 'standard', state: 'approved', implementationPlan: expect.stringContaining('Snapshot the VM') });
  });
  it('become normal changes when they leave it', async () => {
    const id = await create({ ...windowsPatch, implementationPlan: 'Install updates by hand' });
    const submitted = await act(requester, id, 'submit');
    expect(submitted.body).toMatchObject({ type: 'normal', state: 'submitted' });
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(manager));
    expect(detail.body.history[1].after.note).toContain('the implementation plan differs from the documented procedure');
  });
});

describe('forward schedule of change (SCH-05)', () => {
  it('serves each client an iCalendar feed behind its own token, parsed back by a real parser', async () => {
    const id = await create({ title: 'Patch the Exchange server', standardChange: 'windows-patching', risk: lowRisk, clients: ['globex'], cis: ['gx-exch-01'], expectedImpact: 'Mail delayed for 30 minutes', window: { start: '2026-03-14T09:00:00Z', end: '2026-03-14T11:00:00Z' } });
    await act(requester, id, 'submit').expect(200);
    await act(manager, id, 'schedule').expect(200);

    const feed = await t.http.get('/api/v1/changes/calendar-feeds/globex').set(as(manager));
    const url = new URL(feed.body.url);
    const ics = await t.http.get(`${url.pathname}${url.search}`);
    expect(ics.status).toBe(200);
    expect(ics.headers['content-type']).toContain('text/calendar');
    const events = Object.values(ical.sync.parseICS(ics.text)).filter((entry) => entry?.type === 'VEVENT') as ical.VEvent[];
    const event = events.find((entry) => String(entry.summary).startsWith(id))!;
    expect(event.start.toISOString()).toBe('2026-03-14T09:00:00.000Z');
    expect(event.end?.toISOString()).toBe('2026-03-14T11:00:00.000Z');
    expect(String(event.description)).toContain('Mail delayed for 30 minutes');

    const otherClient = await t.http.get(`${url.pathname}?client=northwind&token=${url.searchParams.get('token')}`);
    expect(otherClient.status).toBe(404);
    expect((await t.http.get(`${url.pathname}?client=globex&token=nope`)).status).toBe(404);

    const schedule = await t.http.get('/api/v1/changes/schedule?client=globex&from=2026-03-14T00:00:00Z&to=2026-03-15T00:00:00Z').set(as(manager));
    expect(schedule.body.items.map((c: { id: string }) => c.id)).toEqual([id]);
  });
});
