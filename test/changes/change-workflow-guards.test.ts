import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, rfc, startChangeTestApp } from './change-fixtures';

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
