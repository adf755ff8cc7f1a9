import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, mediumRisk, rfc, startChangeTestApp } from './change-fixtures';

// Filled in by beforeAll: the app, the workflow steps and the people of startChangeTestApp().
let t: TestApp, steps: ReturnType<typeof changeSteps>, requester: string, manager: string, implementer: string;

beforeAll(async () => {
  ({ t, steps, requester, manager, implementer } = await startChangeTestApp());
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

    // After the freeze: a window the approvers did not approve, so they are asked again.
    const after = await steps.act(manager, id, 'schedule', { window: { start: '2026-04-07T20:00:00Z', end: '2026-04-07T21:30:00Z' } });
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body).toMatchObject({ state: 'awaiting_approval', scheduleException: null });
    await steps.act(manager, id, 'approve', { rationale: 'after the close is better' }).expect(200);
    await steps.act(manager, id, 'schedule').expect(200);
    // Back into the freeze: the lapsed exception is gone; a new one would be needed.
    const back = await steps.act(manager, id, 'schedule', { window: inFreeze });
    expect(back.status).toBe(409);
    expect(back.body.error.message).toContain('globex-q1-close');
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

/**
 * Holds a lock on the change's row in a transaction of its own, starts the requests, and
 * lets go once `waiting` of them wait for a lock (or all have answered, when nothing locks).
 */
async function whileChangeLocked<T>(id: string, waiting: number, start: () => PromiseLike<T>[]): Promise<T[]> {
  // A plain knex transaction: an ORM one would be the context of the requests started inside it.
  const knex = t.orm.em.getConnection().getKnex();
  const holder = await knex.transaction();
  try {
    await holder.raw('select id from change_request where number = ? for update', [Number(id.slice('CHG-'.length))]);
    let answered = false;
    const responses = Promise.all(start()).finally(() => (answered = true));
    for (let tries = 0; !answered; tries += 1) {
      const { rows } = await knex.raw<{ rows: { count: string }[] }>("select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
      if (Number(rows[0]!.count) >= waiting) break;
      if (tries === 400) throw new Error('the requests neither waited for the lock nor answered');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await holder.commit();
    return await responses;
  } finally {
    if (!holder.isCompleted()) await holder.rollback();
  }
}

describe('concurrent requests', () => {
  it('schedules only one of two conflicting changes requested at the same moment (SCH-04)', async () => {
    const window = { start: '2026-03-12T20:00:00Z', end: '2026-03-12T22:00:00Z' };
    const ids: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const id = await steps.awaitingApproval(requester, manager, rfc({ cis: ['nw-pos-sync-01'], services: [], window }));
      await steps.act(manager, id, 'approve', { rationale: 'no objections' }).expect(200);
      ids.push(id);
    }
    const results = await Promise.all(ids.map((id) => steps.act(manager, id, 'schedule')));
    expect(results.map((res) => res.status).sort()).toEqual([200, 409]);
    expect(results.find((res) => res.status === 409)!.body.error.details.violations[0].code).toBe('conflict');
  });

  it('approves a change whose last two approvals arrive at the same moment (CHG-06)', async () => {
    const id = await steps.awaitingApproval(requester, manager, rfc({ risk: mediumRisk, window: { start: '2026-03-10T20:00:00Z', end: '2026-03-10T21:00:00Z' } }));
    const member = await t.tokenFor('cab_member', { email: 'concurrent.cab@test.example' });
    // Both decisions are made while the change row is held, so they really overlap.
    const results = await whileChangeLocked(id, 2, () => [steps.act(manager, id, 'approve', { rationale: 'plan is sound', group: 'change_manager' }), steps.act(member, id, 'approve', { rationale: 'board agrees' })]);
    expect(results.map((res) => res.status)).toEqual([200, 200]);
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(manager));
    expect(detail.body.state).toBe('approved');
    expect(detail.body.approvals.map((a: { status: string }) => a.status)).toEqual(['approved', 'approved']);
  });
});

describe('client notices (COM-02)', () => {
  it('tells the client every time the change moves, also back to a window it had before', async () => {
    // Moves inside the approved window: no new approval needed (see change-reschedule.test.ts for moves out of it).
    const first = { start: '2026-03-16T20:00:00Z', end: '2026-03-16T21:00:00Z' };
    const second = { start: '2026-03-16T21:00:00Z', end: '2026-03-16T22:00:00Z' };
    const id = await steps.scheduled(requester, manager, rfc({ cis: ['nw-web-02'], services: [], window: { start: '2026-03-16T20:00:00Z', end: '2026-03-16T23:00:00Z' } }));
    for (const window of [second, first, second]) await steps.act(manager, id, 'schedule', { window }).expect(200);
    const moves = (await steps.outbox('change.postponed')).filter((n) => n.subject.includes(id) && n.recipient === 'it-ops@northwind.example');
    expect(moves.map((n) => /Previously planned for (.*)\./.exec(n.body)![1])).toEqual(['Mon 16 Mar 2026, 20:00 GMT', 'Mon 16 Mar 2026, 21:00 GMT', 'Mon 16 Mar 2026, 20:00 GMT']);
  });

  it('words the completion notice by its outcome', async () => {
    const tested = { testResults: 'staging: smoke tests green' };
    const outcomes = ['successful', 'backed_out', 'failed'] as const;
    const bodies: Record<string, string> = {};
    for (const [i, outcome] of outcomes.entries()) {
      const start = `2026-03-2${i + 3}T20:00:00Z`;
      t.clock.set('2026-03-02T10:00:00Z');
      const id = await steps.scheduled(requester, manager, rfc({ ...tested, cis: ['nw-m365'], services: ['nw-email'], window: { start, end: `2026-03-2${i + 3}T22:00:00Z` } }));
      t.clock.set(new Date(Date.parse(start) + 60_000).toISOString());
      await steps.act(implementer, id, 'start').expect(200);
      await steps.act(implementer, id, 'complete', { outcome }).expect(200);
      bodies[outcome] = (await steps.outbox('change.completed')).find((n) => n.subject.includes(id) && n.recipient === 'it-ops@northwind.example')!.body;
    }
    expect(bodies.successful).toContain('has been carried out successfully');
    for (const outcome of ['backed_out', 'failed']) expect(bodies[outcome]).not.toContain('has been carried out');
    expect(bodies.backed_out).toContain('reversed');
    expect(bodies.failed).toContain('could not be completed');
  });
});

describe('standard changes (CHG-02, CHG-10)', () => {
  const windowsPatch = { title: 'Patch the domain controller', standardChange: 'windows-patching', implementers: ['impl@test.example'], justification: 'monthly patches', clients: ['globex'], cis: ['gx-dc-01'], window: { start: '2026-03-07T09:00:00Z', end: '2026-03-07T11:00:00Z' } };
  it("need the risk questionnaire, so the template's risk ceiling always applies", async () => {
    t.clock.set('2026-03-02T10:00:00Z');
    const { id } = await steps.create(requester, windowsPatch);
    const unassessed = await steps.act(requester, id, 'submit');
    expect(unassessed.status).toBe(400);
    expect(unassessed.body.error.details.map((d: { path: string }) => d.path)).toEqual(['risk']);
    const { id: risky } = await steps.create(requester, { ...windowsPatch, risk: mediumRisk });
    const submitted = await steps.act(requester, risky, 'submit');
    expect(submitted.body).toMatchObject({ type: 'normal', state: 'submitted' });
  });
});
