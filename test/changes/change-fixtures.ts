import { expect } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

export const as = (token: string) => ({ Authorization: `Bearer ${token}` });
export const lowRisk = { complexity: 'low', rollback: 'easy', testedInNonProduction: true };
export const mediumRisk = { complexity: 'medium', rollback: 'difficult', testedInNonProduction: true };

/** A complete normal RFC for northwind's web server; override what a test is about. */
export function rfc(overrides: Record<string, unknown> = {}) {
  return {
    title: 'Upgrade nginx on web-01',
    description: 'Move to nginx 1.26',
    justification: 'Security fixes',
    implementers: ['impl@test.example'],
    clients: ['northwind'],
    services: ['nw-webshop'],
    cis: ['nw-web-01'],
    implementationPlan: 'apt-get install nginx=1.26',
    testPlan: 'curl the shop, run smoke tests',
    backoutPlan: 'apt-get install nginx=1.24',
    expectedImpact: 'Web shop unavailable for up to 5 minutes',
    window: { start: '2026-03-10T20:00:00Z', end: '2026-03-10T23:00:00Z' },
    risk: lowRisk,
    ...overrides,
  };
}

/** Steps of the change workflow through the API, for tests about what comes after them. */
export function changeSteps(t: TestApp) {
  async function create(token: string, body: Record<string, unknown>) {
    const res = await t.http.post('/api/v1/changes').set(as(token)).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; version: number };
  }

  function act(token: string, id: string, action: string, body: Record<string, unknown> = {}) {
    return t.http.post(`/api/v1/changes/${id}/${action}`).set(as(token)).send(body);
  }

  /** Raised by `requester`, submitted and assessed by `manager`: awaiting approval. */
  async function awaitingApproval(requester: string, manager: string, body: Record<string, unknown> = rfc()) {
    const { id } = await create(requester, body);
    expect((await act(requester, id, 'submit')).status).toBe(200);
    expect((await act(manager, id, 'assess', { notes: 'routine upgrade' })).body.state).toBe('awaiting_approval');
    return id;
  }

  /** Approved by `manager` (the only approval a low-risk normal change needs) and scheduled into its window. */
  async function scheduled(requester: string, manager: string, body: Record<string, unknown> = rfc()) {
    const id = await awaitingApproval(requester, manager, body);
    expect((await act(manager, id, 'approve', { rationale: 'routine' })).body.state).toBe('approved');
    expect((await act(manager, id, 'schedule')).body.state).toBe('scheduled');
    return id;
  }

  async function outbox(kindPrefix: string) {
    return t.orm.em
      .fork()
      .getConnection()
      .execute<{ kind: string; recipient: string; subject: string; body: string; html: string | null; dedup_key: string }[]>('select kind, recipient, subject, body, html, dedup_key from notification where kind like ? order by id', [`${kindPrefix}%`]);
  }

  return { create, act, awaitingApproval, scheduled, outbox };
}

/** A test app with the people most change tests need: a requester, rfc()'s implementer, and a change manager who sits on the CAB. */
export async function startChangeTestApp() {
  const t = await startTestApp();
  const requester = await t.tokenFor('tier2', { email: 'req@test.example' });
  const implementer = await t.tokenFor('implementer', { email: 'impl@test.example' });
  const manager = await t.tokenFor(['change_manager', 'cab_member'], { email: 'paul.mensah@precision.example' });
  return { t, steps: changeSteps(t), requester, implementer, manager };
}
