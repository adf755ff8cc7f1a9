import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { changeSteps, lowRisk, rfc, startChangeTestApp } from './change-fixtures';

// Windows in the past, for every change type (SCH-02, CHG-08).
let t: TestApp, steps: ReturnType<typeof changeSteps>, requester: string, manager: string;

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
});
afterAll(async () => t?.close());
beforeEach(() => t.clock.set('2026-03-02T10:00:00Z'));

describe('standard changes (CHG-02)', () => {
  const patching = { title: 'Patch the domain controller', standardChange: 'windows-patching', implementers: ['impl@test.example'], justification: 'monthly patches', risk: lowRisk, clients: ['globex'], cis: ['gx-dc-01'], window: { start: '2026-03-07T09:00:00Z', end: '2026-03-07T11:00:00Z' } };

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
});

describe('submitting a window that already began (SCH-02)', () => {
  it('is refused for normal changes too, naming the field', async () => {
    const { id } = await steps.create(requester, rfc({ cis: ['nw-fw-01'], services: [], window: { start: '2026-03-01T20:00:00Z', end: '2026-03-01T22:00:00Z' } }));
    const res = await steps.act(requester, id, 'submit');
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['window.start']);
  });
});
