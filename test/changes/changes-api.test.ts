import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';
import { as, changeSteps, rfc } from './change-fixtures';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let create: typeof steps.create;
let act: typeof steps.act;
let outbox: typeof steps.outbox;
let requester: string;
let selfApprover: string;
let implementer: string;
let otherImplementer: string;
let implementingManager: string;
let manager: string;
let security: string;

beforeAll(async () => {
  t = await startTestApp();
  steps = changeSteps(t);
  ({ create, act, outbox } = steps);
  requester = await t.tokenFor('tier2', { email: 'req@test.example' });
  // Holds every approving role, yet raised the change: SoD must still refuse.
  selfApprover = await t.tokenFor(['tier2', 'change_manager', 'cab_member'], { email: 'boss@test.example' });
  implementer = await t.tokenFor('implementer', { email: 'impl@test.example' });
  otherImplementer = await t.tokenFor('implementer', { email: 'impl2@test.example' });
  implementingManager = await t.tokenFor(['implementer', 'change_manager'], { email: 'implboss@test.example' });
  manager = await t.tokenFor(['change_manager', 'cab_member'], { email: 'paul.mensah@precision.example' });
  security = await t.tokenFor('tier3', { email: 'ravi.menon@precision.example' });
});
afterAll(async () => t?.close());

/** Submitted and assessed: waiting for its approvals. */
const awaitingApproval = (body?: Record<string, unknown>) => steps.awaitingApproval(requester, manager, body);

describe('the RFC record and its workflow (CHG-01, CHG-03)', () => {
  it('submitting an incomplete normal change lists every missing field', async () => {
    const { id } = await create(requester, { title: 'Replace the core switch' });
    const res = await act(requester, id, 'submit');
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['description', 'justification', 'clients', 'cis', 'implementationPlan', 'implementers', 'window', 'backoutPlan', 'testPlan', 'risk']);
  });

  it('refuses unknown references and non-implementers, listing each', async () => {
    const res = await t.http.post('/api/v1/changes').set(as(requester)).send(rfc({ clients: ['northwind'], cis: ['gx-dc-01'], implementers: ['req@test.example', 'nobody@test.example'] }));
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['cis.0', 'implementers.0', 'implementers.1']);
  });

  it('refuses illegal transitions with 409 and the reason, and audits every step', async () => {
    const { id } = await create(requester, rfc());
    const early = await act(implementer, id, 'start');
    expect(early.status).toBe(409);
    expect(early.body.error.message).toBe('cannot move a draft change to in_progress; allowed from draft: submitted, cancelled');
    await act(requester, id, 'submit').expect(200);
    await act(requester, id, 'cancel', { reason: 'superseded by a bigger upgrade' }).expect(200);
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(manager));
    expect(detail.body.history.map((h: { action: string }) => h.action)).toEqual(['change.created', 'change.submitted', 'change.cancelled']);
    expect(detail.body.history[2]).toMatchObject({ actor: { name: 'req@test.example' }, before: { state: 'submitted' }, after: { state: 'cancelled', note: 'superseded by a bigger upgrade' } });
  });

  it('shows the risk with how it was computed (CHG-04)', async () => {
    const { id } = await create(requester, rfc({ cis: ['nw-db-01'], services: [], risk: { complexity: 'high', rollback: 'difficult', testedInNonProduction: false } }));
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(requester));
    expect(detail.body.risk).toMatchObject({ level: 'high', score: 3 + 0 + 2 + 2 + 2 + 2 + 0 });
    expect(detail.body.risk.factors[2]).toEqual({ factor: 'dependent CIs', value: '4', points: 2 });
  });
});

describe('approvals (CHG-06, CHG-07, CHG-11)', () => {
  it('the requester can never approve their own change, whatever roles they hold (403 with the reason)', async () => {
    const { id } = await create(selfApprover, rfc());
    await act(selfApprover, id, 'submit').expect(200);
    await act(manager, id, 'assess', { notes: 'routine work' }).expect(200);
    const res = await act(selfApprover, id, 'approve', { rationale: 'looks fine to me' });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe('segregation of duties: the requester of a change cannot approve it');
  });

  it('an implementer holding the change manager role cannot approve either', async () => {
    const { id } = await create(requester, rfc({ implementers: ['impl@test.example', 'implboss@test.example'] }));
    await act(requester, id, 'submit').expect(200);
    await act(manager, id, 'assess', { notes: 'routine work' }).expect(200);
    const res = await act(implementingManager, id, 'approve', { rationale: 'fine by me' });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('an implementer of a change cannot approve it');
  });

  it('regulated CIs need the security review; all approvals are needed and one rejection rejects; re-submission counts as rework', async () => {
    const id = await awaitingApproval(rfc({ clients: ['globex'], services: [], cis: ['gx-report-01'], window: { start: '2026-03-17T21:00:00Z', end: '2026-03-17T23:00:00Z' } }));
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(manager));
    expect(detail.body.approvals.map((a: { group: string }) => a.group)).toEqual(['change_manager', 'team:security']);
    const approvedByManager = await act(manager, id, 'approve', { rationale: 'plan is sound', conditions: 'DBA on standby' });
    expect(approvedByManager.body.state).toBe('awaiting_approval');
    const rejected = await act(security, id, 'reject', { rationale: 'SOX evidence missing' });
    expect(rejected.body.state).toBe('rejected');
    expect((await act(requester, id, 'submit')).body).toMatchObject({ state: 'submitted', resubmissions: 1 });
    const requests = await outbox('change.approval_request');
    const recipients = requests.filter((n) => n.subject.startsWith(id)).map((n) => n.recipient);
    // Change managers and the security team; only the first round (re-submission awaits a new assessment).
    expect(recipients).toEqual(expect.arrayContaining(['paul.mensah@precision.example', 'ravi.menon@precision.example', 'chen.wei@precision.example']));
    expect(recipients).not.toContain('req@test.example');
  });
});

describe('scheduling (SCH-01..04, CHG-12) and implementation (IMP-01..06)', () => {
  it('checks the window, notifies the client, reminds before, starts only inside it, and a failed change opens an incident in one step', async () => {
    const id = await awaitingApproval();
    await act(manager, id, 'approve', { rationale: 'routine' }).expect(200);

    const outside = await act(manager, id, 'schedule', { window: { start: '2026-03-10T12:00:00Z', end: '2026-03-10T13:00:00Z' } });
    expect(outside.status).toBe(409);
    expect(outside.body.error.details.violations.map((v: { code: string }) => v.code)).toEqual(['outside_maintenance_window']);
    const tooSoon = await act(manager, id, 'schedule', { window: { start: '2026-03-03T20:00:00Z', end: '2026-03-03T21:00:00Z' } });
    expect(tooSoon.body.error.message).toContain('Northwind Traders needs 7d notice');

    const scheduled = await act(manager, id, 'schedule');
    expect(scheduled.status).toBe(200);
    const notices = await outbox('change.scheduled');
    expect(notices.map((n) => n.recipient).sort()).toEqual(['it-ops@northwind.example', 'james.whitfield@northwind.example', 'sarah.okafor@precision.example']);
    expect(notices[0]!.body).toContain('When:       Tue 10 Mar 2026, 20:00 GMT - Tue 10 Mar 2026, 23:00 GMT');
    expect(notices[0]!.body).toContain('Impact:     Web shop unavailable for up to 5 minutes');

    t.clock.set('2026-03-08T20:00:01Z');
    await t.app.services.timers.runDue();
    expect((await outbox('change.reminder')).map((n) => n.recipient)).toHaveLength(3);
    await t.app.services.timers.runDue();
    expect((await outbox('change.reminder')).map((n) => n.recipient)).toHaveLength(3);

    const beforeWindow = await act(implementer, id, 'start');
    expect(beforeWindow.status).toBe(409);
    expect(beforeWindow.body.error.message).toContain('starting early is refused');
    t.clock.set('2026-03-10T20:05:00Z');
    expect((await act(otherImplementer, id, 'start')).status).toBe(403);
    const untested = await act(implementer, id, 'start');
    expect(untested.status).toBe(400);
    expect(untested.body.error.details).toEqual([{ path: 'testResults', message: 'required to start a normal change' }]);
    await t.http.patch(`/api/v1/changes/${id}`).set(as(requester)).send({ testResults: 'staging: all smoke tests green' }).expect(200);
    expect((await t.http.patch(`/api/v1/changes/${id}`).set(as(requester)).send({ implementationPlan: 'something else' })).status).toBe(409);
    expect((await act(implementer, id, 'start')).body).toMatchObject({ state: 'in_progress', actualStart: '2026-03-10T20:05:00.000Z' });

    t.clock.set('2026-03-10T23:10:00Z');
    await t.app.services.timers.runDue();
    const failed = await act(implementer, id, 'complete', { outcome: 'failed', notes: 'config test failed', openIncident: { severity: 2 } });
    expect(failed.body).toMatchObject({ state: 'completed', outcome: 'failed', overrun: true, review: { required: true } });
    expect(failed.body.incidentId).toEqual(expect.any(Number));
    const incidents = await t.http.get('/api/v1/incidents?client=northwind').set(as(manager));
    expect(incidents.body.items[0]).toMatchObject({ title: expect.stringContaining(`Failed change ${id}`), severity: 2, ciIds: ['nw-web-01'] });
    expect((await outbox('change.completed')).length).toBe(3);
    expect((await outbox('change.overrun')).length).toBeGreaterThan(0);

    const pending = await t.http.get('/api/v1/changes?reviewPending=true').set(as(manager));
    expect(pending.body.items.map((c: { id: string }) => c.id)).toContain(id);
    const closeEarly = await act(manager, id, 'close');
    expect(closeEarly.status).toBe(409);
    expect(closeEarly.body.error.message).toContain('post-implementation review');
    await act(manager, id, 'review', { summary: 'config syntax not validated in staging; add nginx -t to the test plan' }).expect(200);
    expect((await act(manager, id, 'close')).body.state).toBe('closed');
  });

  it('refuses a freeze with 409 naming it, and schedules after an exception with risk acceptance', async () => {
    t.clock.set('2026-03-02T10:00:00Z');
    const id = await awaitingApproval(rfc({ clients: ['globex'], services: [], cis: ['gx-dc-01'], window: { start: '2026-03-31T20:00:00Z', end: '2026-03-31T21:30:00Z' } }));
    await act(manager, id, 'approve', { rationale: 'routine' }).expect(200);
    const frozen = await act(manager, id, 'schedule');
    expect(frozen.status).toBe(409);
    expect(frozen.body.error.message).toContain('globex-q1-close');
    expect(frozen.body.error.message).toContain('Globex Q1 financial close');
    expect((await act(requester, id, 'exception', { riskAcceptance: 'DC patch is urgent' })).status).toBe(403);
    const exception = await act(manager, id, 'exception', { riskAcceptance: 'CVE fix cannot wait; reporting servers unaffected' });
    expect(exception.body.scheduleException).toMatchObject({ accepted: ['freeze:globex-q1-close'], approvedBy: 'paul.mensah@precision.example' });
    expect((await act(manager, id, 'schedule')).body.state).toBe('scheduled');
  });

  it('detects a conflicting change on the same CI (dependent CIs: see the unit tests)', async () => {
    const window = { start: '2026-03-12T20:00:00Z', end: '2026-03-12T22:00:00Z' };
    const first = await awaitingApproval(rfc({ cis: ['nw-pos-sync-01'], services: [], window }));
    await act(manager, first, 'approve', { rationale: 'no objections' }).expect(200);
    await act(manager, first, 'schedule').expect(200);
    const second = await awaitingApproval(rfc({ cis: ['nw-pos-sync-01'], services: [], window }));
    await act(manager, second, 'approve', { rationale: 'no objections' }).expect(200);
    const conflict = await act(manager, second, 'schedule');
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.details.violations).toEqual([{ code: 'conflict', key: `conflict:${first}`, message: `${first} works on nw-pos-sync-01 (the same or dependent CIs) at an overlapping time` }]);
    // A free slot outside the approved window: the approver is asked again, then it is scheduled there.
    const moved = await act(manager, second, 'schedule', { window: { start: '2026-03-12T22:00:00Z', end: '2026-03-12T23:00:00Z' } });
    expect(moved.body.state).toBe('awaiting_approval');
    await act(manager, second, 'approve', { rationale: 'the later slot is fine' }).expect(200);
    await act(manager, second, 'schedule').expect(200);
    // Moving a scheduled change (inside its approved window) tells the clients it was postponed.
    await act(manager, second, 'schedule', { window: { start: '2026-03-12T22:30:00Z', end: '2026-03-12T23:00:00Z' } }).expect(200);
    expect((await outbox('change.postponed')).map((n) => n.body).join()).toContain('Previously planned for Thu 12 Mar 2026, 22:00 GMT.');
  });
});
