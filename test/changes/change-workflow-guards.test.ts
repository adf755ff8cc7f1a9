import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, mediumRisk, rfc, startChangeTestApp } from './change-fixtures';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let manager: string;

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
});
afterAll(async () => t?.close());

const patch = (token: string, id: string, body: Record<string, unknown>) => t.http.patch(`/api/v1/changes/${id}`).set(as(token)).send(body);

describe('editing after submission (CHG-03)', () => {
  it('refuses edits once submitted, so the submit checks cannot be undone', async () => {
    const { id } = await steps.create(requester, rfc());
    await steps.act(requester, id, 'submit').expect(200);
    const emptied = await patch(requester, id, { backoutPlan: '' });
    expect(emptied.status).toBe(409);
    expect(emptied.body.error.message).toContain('a submitted change can no longer be edited');
    await steps.act(manager, id, 'assess', { notes: 'routine', complete: false }).expect(200);
    expect((await patch(manager, id, { testPlan: '' })).status).toBe(409);
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(manager));
    expect(detail.body).toMatchObject({ backoutPlan: 'apt-get install nginx=1.24', testPlan: 'curl the shop, run smoke tests' });
  });

  it('lets a rejected change be reworked, but never changes its type or catalog entry after submission', async () => {
    const id = await steps.awaitingApproval(requester, manager);
    await steps.act(manager, id, 'reject', { rationale: 'test plan too thin' }).expect(200);
    await patch(requester, id, { testPlan: 'curl the shop, run the full regression suite' }).expect(200);
    const retyped = await patch(requester, id, { type: 'standard' });
    expect(retyped.status).toBe(409);
    expect(retyped.body.error.message).toContain('type');
    expect((await patch(requester, id, { standardChange: 'windows-patching' })).status).toBe(409);
    const { id: draft } = await steps.create(requester, rfc());
    expect((await patch(requester, draft, { type: 'emergency' })).body.type).toBe('emergency');
  });
});

describe('schedule exceptions (CHG-12, SCH-03)', () => {
  it('apply only to the window they were accepted for, and lapse when the change moves elsewhere', async () => {
    t.clock.set('2026-03-02T10:00:00Z');
    const inFreeze = { start: '2026-03-31T20:00:00Z', end: '2026-03-31T21:30:00Z' };
    const id = await steps.awaitingApproval(requester, manager, rfc({ clients: ['globex'], services: [], cis: ['gx-dc-01'], window: inFreeze }));
    await steps.act(manager, id, 'approve', { rationale: 'routine' }).expect(200);
    const exception = await steps.act(manager, id, 'exception', { riskAcceptance: 'CVE fix cannot wait; reporting servers unaffected' });
    expect(exception.body.scheduleException).toMatchObject({ accepted: ['freeze:globex-q1-close'], window: { start: '2026-03-31T20:00:00.000Z', end: '2026-03-31T21:30:00.000Z' } });
    await steps.act(manager, id, 'schedule').expect(200);

    // Another night of the same freeze: the risk accepted for the 31st does not cover it.
    const elsewhere = await steps.act(manager, id, 'schedule', { window: { start: '2026-04-01T20:00:00Z', end: '2026-04-01T21:30:00Z' } });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.error.message).toContain('globex-q1-close');

    const after = await steps.act(manager, id, 'schedule', { window: { start: '2026-04-07T20:00:00Z', end: '2026-04-07T21:30:00Z' } });
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.scheduleException).toBeNull();
    // Back into the freeze: the lapsed exception is gone; a new one would be needed.
    expect((await steps.act(manager, id, 'schedule', { window: inFreeze })).status).toBe(409);
  });
});

describe('one person, one approval per round (CHG-06, CHG-09)', () => {
  it('refuses a second decision by someone who holds several approving roles', async () => {
    const id = await steps.awaitingApproval(requester, manager, rfc({ risk: mediumRisk, window: { start: '2026-03-11T20:00:00Z', end: '2026-03-11T21:00:00Z' } }));
    await steps.act(manager, id, 'approve', { rationale: 'plan is sound', group: 'change_manager' }).expect(200);
    const twice = await steps.act(manager, id, 'approve', { rationale: 'and the board agrees', group: 'cab' });
    expect(twice.status).toBe(403);
    expect(twice.body.error.message).toContain('already decided');
    expect(twice.body.error.message).toContain('change manager');
    const member = await t.tokenFor('cab_member', { email: 'ivan.petrov@precision.example' });
    expect((await steps.act(member, id, 'approve', { rationale: 'board agrees' })).body.state).toBe('approved');
  });
});
