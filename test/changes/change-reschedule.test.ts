import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, lowRisk, rfc, startChangeTestApp } from './change-fixtures';

// Moving an approved change (CHG-06, CHG-08, CHG-10, IMP-01, SCH-01..04, COM-02) and windows in the past.
let t: TestApp, steps: ReturnType<typeof changeSteps>, requester: string, manager: string, implementer: string;

beforeAll(async () => {
  ({ t, steps, requester, manager, implementer } = await startChangeTestApp());
});
afterAll(async () => t?.close());
beforeEach(() => t.clock.set('2026-03-02T10:00:00Z'));

type Approval = { round: number; group: string; status: string };
type HistoryEntry = { action: string; before: Record<string, unknown> | null; after: Record<string, unknown> };
const detail = async (id: string) => (await t.http.get(`/api/v1/changes/${id}`).set(as(manager)).expect(200)).body as { state: string; approvals: Approval[]; history: HistoryEntry[]; window: { start: string; end: string } };
const iso = (at: string) => new Date(at).toISOString();

describe('moving an approved normal change (CHG-06, IMP-01)', () => {
  const first = { start: '2026-03-10T20:00:00Z', end: '2026-03-10T23:00:00Z' };
  const moved = { start: '2026-03-11T20:00:00Z', end: '2026-03-11T23:00:00Z' };

  it('withdraws the approvals, asks the approvers again, audits both windows and tells the client the old time is off', async () => {
    const id = await steps.scheduled(requester, manager, rfc({ window: first, testResults: 'staging: green' }));
    const requestsBefore = (await steps.outbox('change.approval_request')).filter((n) => n.subject.startsWith(`${id}:`) && n.recipient === 'paul.mensah@precision.example');
    expect(requestsBefore).toHaveLength(1);

    const res = await steps.act(manager, id, 'schedule', { window: moved });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ state: 'awaiting_approval', window: { start: iso(moved.start), end: iso(moved.end) }, approvedWindow: null });

    const after = await detail(id);
    expect(after.approvals.map(({ round, group, status }) => ({ round, group, status }))).toEqual([
      { round: 1, group: 'change_manager', status: 'withdrawn' },
      { round: 2, group: 'change_manager', status: 'pending' },
    ]);
    const entry = after.history.at(-1)!;
    expect(entry.action).toBe('change.reapproval_requested');
    expect(entry.before).toMatchObject({ state: 'scheduled', windowStart: iso(first.start), windowEnd: iso(first.end) });
    expect(entry.after).toMatchObject({ state: 'awaiting_approval', windowStart: iso(moved.start), windowEnd: iso(moved.end), approvalRound: 2 });
    expect(entry.after.note).toContain(`${iso(first.start)} - ${iso(first.end)}`);
    expect(entry.after.note).toContain(`${iso(moved.start)} - ${iso(moved.end)}`);
    expect(entry.after.note).toContain('change manager');

    // The approvers are asked again, through the outbox, and told why.
    const requests = (await steps.outbox('change.approval_request')).filter((n) => n.subject.startsWith(`${id}:`) && n.recipient === 'paul.mensah@precision.example');
    expect(requests).toHaveLength(2);
    expect(requests[1]!.subject).toContain('again');
    expect(requests[1]!.body).toContain('Tue 10 Mar 2026, 20:00 GMT');
    expect(requests[1]!.body).toContain('Wed 11 Mar 2026, 20:00 GMT');

    // Clients were told of the first window; now they hear it no longer holds, with the new time to be confirmed.
    const onHold = (await steps.outbox('change.on_hold')).filter((n) => n.subject.includes(id) && n.recipient === 'it-ops@northwind.example');
    expect(onHold).toHaveLength(1);
    expect(onHold[0]!.body).toContain('When:       to be confirmed');
    expect(onHold[0]!.body).toContain('Previously planned for Tue 10 Mar 2026, 20:00 GMT.');

    // The withdrawn approval no longer lets anyone implement in the old window.
    t.clock.set('2026-03-10T20:05:00Z');
    expect((await steps.act(implementer, id, 'start')).status).toBe(409);

    // Approved again, it is scheduled into the new window like a first scheduling.
    t.clock.set('2026-03-02T12:00:00Z');
    expect((await steps.act(manager, id, 'approve', { rationale: 'new date is fine' })).body).toMatchObject({ state: 'approved', approvedWindow: { start: iso(moved.start), end: iso(moved.end) } });
    const rescheduled = await steps.act(manager, id, 'schedule');
    expect(rescheduled.body).toMatchObject({ state: 'scheduled', window: { start: iso(moved.start) } });
    expect((await steps.outbox('change.scheduled')).filter((n) => n.subject.includes(id) && n.recipient === 'it-ops@northwind.example')).toHaveLength(2);
  });

  it('asks again when an approved change is first scheduled into a window other than the approved one', async () => {
    const id = await steps.awaitingApproval(requester, manager, rfc({ cis: ['nw-web-02'], services: [], window: { start: '2026-03-16T20:00:00Z', end: '2026-03-16T22:00:00Z' } }));
    await steps.act(manager, id, 'approve', { rationale: 'routine' }).expect(200);
    const res = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-17T20:00:00Z', end: '2026-03-17T22:00:00Z' } });
    expect(res.body.state).toBe('awaiting_approval');
    expect((await detail(id)).approvals.map((a) => a.status)).toEqual(['withdrawn', 'pending']);
    // Nobody had been told a time yet: nothing to take back.
    expect((await steps.outbox('change.on_hold')).filter((n) => n.subject.includes(id))).toEqual([]);
  });

  it('keeps the approvals when the change stays inside the approved window', async () => {
    const id = await steps.scheduled(requester, manager, rfc({ cis: ['nw-m365'], services: ['nw-email'], window: { start: '2026-03-18T20:00:00Z', end: '2026-03-18T23:00:00Z' } }));
    const res = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-18T21:00:00Z', end: '2026-03-18T22:00:00Z' } });
    expect(res.body).toMatchObject({ state: 'scheduled', approvedWindow: { start: '2026-03-18T20:00:00.000Z', end: '2026-03-18T23:00:00.000Z' } });
    expect((await detail(id)).approvals.map((a) => a.status)).toEqual(['approved']);
    expect((await detail(id)).history.at(-1)!.action).toBe('change.rescheduled');
  });

  it('checks the new window like a first scheduling, and changes nothing when it fails', async () => {
    const id = await steps.scheduled(requester, manager, rfc({ cis: ['nw-pos-sync-01'], services: [], window: { start: '2026-03-19T20:00:00Z', end: '2026-03-19T22:00:00Z' } }));
    const businessHours = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-20T12:00:00Z', end: '2026-03-20T13:00:00Z' } });
    expect(businessHours.status).toBe(409);
    expect(businessHours.body.error.details.violations.map((v: { code: string }) => v.code)).toEqual(['outside_maintenance_window']);
    const past = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-01T20:00:00Z', end: '2026-03-01T22:00:00Z' } });
    expect(past.status).toBe(400);
    expect(past.body.error.details[0].path).toBe('window.start');
    const unchanged = await detail(id);
    expect(unchanged).toMatchObject({ state: 'scheduled', window: { start: '2026-03-19T20:00:00.000Z' } });
    expect(unchanged.approvals.map((a) => a.status)).toEqual(['approved']);
  });

  it('refuses to move a change once implementation has started (409 with the reason)', async () => {
    const id = await steps.scheduled(requester, manager, rfc({ cis: ['nw-web-stg-01'], services: [], testResults: 'staging: green', window: { start: '2026-03-23T20:00:00Z', end: '2026-03-23T22:00:00Z' } }));
    t.clock.set('2026-03-23T20:05:00Z');
    await steps.act(implementer, id, 'start').expect(200);
    const res = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-24T20:00:00Z', end: '2026-03-24T22:00:00Z' } });
    expect(res.status).toBe(409);
    expect(res.body.error.details).toMatchObject({ reason: 'implementation_started', state: 'in_progress' });
    expect(res.body.error.message).toContain('implementation started');
  });
});

describe('client approvers asked again (CHG-06, COM-01)', () => {
  it('voids the links of the withdrawn round and sends new ones', async () => {
    const window = { start: '2026-03-22T14:00:00Z', end: '2026-03-22T16:00:00Z' };
    const id = await steps.awaitingApproval(requester, manager, rfc({ clients: ['acme-health'], services: [], cis: ['ah-fs-01'], window }));
    const linkOf = async (to: string) => {
      const mails = (await steps.outbox('change.approval_request')).filter((n) => n.subject.includes(id) && n.recipient === to);
      return { count: mails.length, path: /\/changes\/approvals\/\S+/.exec(mails.at(-1)!.body)![0], body: mails.at(-1)!.body };
    };
    const old = await linkOf('kevin.obrien@acmehealth.example');
    await steps.act(manager, id, 'approve', { rationale: 'monthly patch' }).expect(200);
    // Regulated (HIPAA) CIs: the security team reviews too (CHG-11).
    const security = await t.tokenFor('tier3', { email: 'ravi.menon@precision.example' });
    await steps.act(security, id, 'approve', { rationale: 'no PHI exposure' }).expect(200);
    await t.http.post(old.path).type('form').send({ decision: 'approve', rationale: 'Sunday is fine' }).expect(200);
    expect((await detail(id)).state).toBe('approved');

    const res = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-29T14:00:00Z', end: '2026-03-29T16:00:00Z' } });
    expect(res.body.state).toBe('awaiting_approval');
    const renewed = await linkOf('kevin.obrien@acmehealth.example');
    expect(renewed.count).toBe(2);
    expect(renewed.path).not.toBe(old.path);
    expect(renewed.body).toContain('Sun 29 Mar 2026, 10:00 EDT');
    expect(renewed.body).toContain('Sun 22 Mar 2026, 10:00 EDT');
    expect((await t.http.get(old.path)).status).toBe(404);
    expect((await t.http.get(renewed.path)).status).toBe(200);
    expect((await detail(id)).approvals.map(({ round, group, status }) => `${round} ${group} ${status}`)).toEqual([
      '1 change_manager withdrawn',
      '1 team:security withdrawn',
      '1 client:acme-health withdrawn',
      '2 change_manager pending',
      '2 team:security pending',
      '2 client:acme-health pending',
    ]);
  });
});

describe('standard changes (CHG-10)', () => {
  const patching = { title: 'Patch the domain controller', standardChange: 'windows-patching', implementers: ['impl@test.example'], justification: 'monthly patches', risk: lowRisk, clients: ['globex'], cis: ['gx-dc-01'], window: { start: '2026-03-07T09:00:00Z', end: '2026-03-07T11:00:00Z' } };

  it('move without new approvals while they stay inside the template; a window outside it is refused', async () => {
    const { id } = await steps.create(requester, patching);
    expect((await steps.act(requester, id, 'submit')).body.state).toBe('approved');
    await steps.act(manager, id, 'schedule').expect(200);
    const moved = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-14T09:00:00Z', end: '2026-03-14T11:00:00Z' } });
    expect(moved.body).toMatchObject({ state: 'scheduled', approvedWindow: { start: '2026-03-14T09:00:00.000Z' } });
    expect((await detail(id)).approvals.map((a) => `${a.group} ${a.status}`)).toEqual(['catalog approved']);
    const tooLong = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-21T09:00:00Z', end: '2026-03-21T13:00:00Z' } });
    expect(tooLong.status).toBe(409);
    expect(tooLong.body.error.details.reason).toBe('standard_change_ineligible');
    expect(tooLong.body.error.message).toContain("longer than the template's 3h");
  });

  it('cannot be submitted or scheduled into the past', async () => {
    const { id } = await steps.create(requester, { ...patching, cis: ['gx-exch-01'], window: { start: '2026-02-28T09:00:00Z', end: '2026-02-28T11:00:00Z' } });
    const submitted = await steps.act(requester, id, 'submit');
    expect(submitted.status).toBe(400);
    expect(submitted.body.error.details.map((d: { path: string }) => d.path)).toEqual(['window.start']);

    const { id: later } = await steps.create(requester, { ...patching, cis: ['gx-exch-01'], window: { start: '2026-03-07T12:00:00Z', end: '2026-03-07T14:00:00Z' } });
    await steps.act(requester, later, 'submit').expect(200);
    const past = await steps.act(manager, later, 'schedule', { window: { start: '2026-02-28T12:00:00Z', end: '2026-02-28T14:00:00Z' } });
    expect(past.status).toBe(400);
    expect(past.body.error.details.map((d: { path: string }) => d.path)).toEqual(['window.start']);
  });
});

describe('emergency changes (CHG-08)', () => {
  const hotfix = (window: { start: string; end: string } | null) => rfc({ type: 'emergency', title: 'Hotfix payment API', cis: ['nw-pay-api-01'], services: ['nw-payments'], window });

  it('are scheduled from now on, never into the past, when the ECAB approved them without a window', async () => {
    const { id } = await steps.create(requester, hotfix(null));
    await steps.act(requester, id, 'submit').expect(200);
    await steps.act(manager, id, 'approve', { rationale: 'outage ongoing' }).expect(200);
    const past = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-02T09:00:00Z', end: '2026-03-02T11:00:00Z' } });
    expect(past.status).toBe(400);
    expect(past.body.error.details.map((d: { path: string }) => d.path)).toEqual(['window.start']);
    expect(past.body.error.message).toContain('past');
    const now = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-02T10:05:00Z', end: '2026-03-02T11:00:00Z' } });
    expect(now.body.state).toBe('scheduled');
  });

  it('go back to the emergency CAB when moved out of the window it approved', async () => {
    const { id } = await steps.create(requester, hotfix({ start: '2026-03-03T12:00:00Z', end: '2026-03-03T13:00:00Z' }));
    await steps.act(requester, id, 'submit').expect(200);
    await steps.act(manager, id, 'approve', { rationale: 'approved for tomorrow noon' }).expect(200);
    const res = await steps.act(manager, id, 'schedule', { window: { start: '2026-03-03T15:00:00Z', end: '2026-03-03T16:00:00Z' } });
    expect(res.body.state).toBe('awaiting_approval');
    expect((await detail(id)).approvals.map(({ round, group, status }) => `${round} ${group} ${status}`)).toEqual(['1 ecab withdrawn', '2 ecab pending']);
    // The ECAB's response-time target runs again for the new request.
    t.clock.set('2026-03-02T11:01:00Z');
    await t.app.services.timers.runDue();
    const escalations = (await steps.outbox('change.ecab_escalation')).filter((n) => n.subject.startsWith(`${id}:`));
    expect(escalations.length).toBeGreaterThan(0);
  });
});

describe('submitting a window that already began (SCH-02)', () => {
  it('is refused for normal changes too, naming the field', async () => {
    const { id } = await steps.create(requester, rfc({ cis: ['nw-fw-01'], services: [], window: { start: '2026-03-01T20:00:00Z', end: '2026-03-01T22:00:00Z' } }));
    const res = await steps.act(requester, id, 'submit');
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['window.start']);
  });
});

describe('what clients were told follows every move (COM-02; review findings)', () => {
  const clientMails = async (kind: string, id: string) => (await steps.outbox(kind)).filter((n) => n.subject.includes(id) && n.recipient === 'it-ops@northwind.example');

  it('announces the confirmed time again after a round of approval, even when the start stays the same', async () => {
    const window = { start: '2026-03-12T20:00:00Z', end: '2026-03-12T21:00:00Z' };
    const id = await steps.scheduled(requester, manager, rfc({ window, testResults: 'staging: green' }));
    const longer = { start: window.start, end: '2026-03-12T23:00:00Z' };
    expect((await steps.act(manager, id, 'schedule', { window: longer })).body.state).toBe('awaiting_approval');
    expect(await clientMails('change.on_hold', id)).toHaveLength(1);
    await steps.act(manager, id, 'approve', { rationale: 'longer window is fine' }).expect(200);
    expect((await steps.act(manager, id, 'schedule')).body.state).toBe('scheduled');
    expect(await clientMails('change.scheduled', id)).toHaveLength(2);
  });

  it('tells clients put on hold that the change is cancelled', async () => {
    const id = await steps.scheduled(requester, manager, rfc({ window: { start: '2026-03-13T20:00:00Z', end: '2026-03-13T21:00:00Z' }, testResults: 'staging: green' }));
    await steps.act(manager, id, 'schedule', { window: { start: '2026-03-14T20:00:00Z', end: '2026-03-14T21:00:00Z' } }).expect(200);
    await steps.act(manager, id, 'cancel', { reason: 'no longer needed' }).expect(200);
    expect(await clientMails('change.cancelled', id)).toHaveLength(1);
  });

  it('puts an announced emergency change on hold when it is moved, and tells clients when the ECAB then rejects it', async () => {
    const { id } = await steps.create(requester, rfc({ type: 'emergency', title: 'Hotfix payment API', cis: ['nw-pay-api-01'], services: ['nw-payments'], window: { start: '2026-03-03T12:00:00Z', end: '2026-03-03T13:00:00Z' } }));
    await steps.act(requester, id, 'submit').expect(200);
    await steps.act(manager, id, 'approve', { rationale: 'approved for tomorrow noon' }).expect(200);
    expect(await clientMails('change.emergency', id)).toHaveLength(1);
    expect((await steps.act(manager, id, 'schedule', { window: { start: '2026-03-03T15:00:00Z', end: '2026-03-03T16:00:00Z' } })).body.state).toBe('awaiting_approval');
    expect(await clientMails('change.on_hold', id)).toHaveLength(1);
    await steps.act(manager, id, 'reject', { rationale: 'wait for the vendor fix instead' }).expect(200);
    const cancelled = await clientMails('change.cancelled', id);
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.body).not.toContain('vendor');
  });

  it('holds an emergency change approved without a window to the first window it is scheduled into', async () => {
    const { id } = await steps.create(requester, rfc({ type: 'emergency', title: 'Hotfix payment API', cis: ['nw-pay-api-01'], services: ['nw-payments'], window: null }));
    await steps.act(requester, id, 'submit').expect(200);
    await steps.act(manager, id, 'approve', { rationale: 'outage ongoing' }).expect(200);
    // (Not the window of the other emergency tests: they share the CI.)
    expect((await steps.act(manager, id, 'schedule', { window: { start: '2026-03-02T13:05:00Z', end: '2026-03-02T14:00:00Z' } })).body).toMatchObject({ state: 'scheduled', approvedWindow: { start: '2026-03-02T13:05:00.000Z' } });
    expect((await steps.act(manager, id, 'schedule', { window: { start: '2026-03-09T13:05:00Z', end: '2026-03-09T14:00:00Z' } })).body.state).toBe('awaiting_approval');
  });

  it('refuses to start a change scheduled outside the window its approval covers (moved before approvals covered windows)', async () => {
    const window = { start: '2026-03-15T20:00:00Z', end: '2026-03-15T21:00:00Z' };
    const id = await steps.scheduled(requester, manager, rfc({ window, testResults: 'staging: green' }));
    // What migration 0010 records for a change moved under the old rules: approved for another day.
    await t.orm.em.fork().getConnection().execute('update change_request set approved_window_start = ?, approved_window_end = ? where number = ?', ['2026-03-14T20:00:00Z', '2026-03-14T21:00:00Z', Number(id.replace(/\D/g, ''))]);
    t.clock.set('2026-03-15T20:05:00Z');
    const res = await steps.act(implementer, id, 'start');
    expect(res.status).toBe(409);
    expect(res.body.error.details).toMatchObject({ reason: 'outside_approved_window' });
  });

  it('never shows a client approver\'s one-time link to staff', async () => {
    const id = await steps.awaitingApproval(requester, manager, rfc({ clients: ['acme-health'], services: [], cis: ['ah-fs-01'], window: { start: '2026-03-22T14:00:00Z', end: '2026-03-22T16:00:00Z' } }));
    const desk = await t.tokenFor('service_desk');
    const listed = JSON.stringify((await t.http.get('/api/v1/notifications?recipient=kevin.obrien@acmehealth.example').set(as(desk)).expect(200)).body);
    expect(listed).toContain(id);
    expect(listed).not.toMatch(/\/changes\/approvals\//);
  });
});
