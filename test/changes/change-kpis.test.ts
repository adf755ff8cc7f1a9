import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, mediumRisk, rfc, startChangeTestApp } from './change-fixtures';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let implementer: string;
let manager: string;

const T0 = '2026-03-02T10:00:00.000Z';
const tested = { testResults: 'staging: smoke tests green' };

beforeAll(async () => {
  ({ t, steps, requester, implementer, manager } = await startChangeTestApp());
});
afterAll(async () => t?.close());

/** Approved at `approveAt` and scheduled; the returned step implements it inside its window with this outcome. */
async function implement(id: string, approveAt: string, windowStart: string, outcome: string) {
  t.clock.set(approveAt);
  await steps.act(manager, id, 'approve', { rationale: 'routine', group: 'change_manager' }).expect(200);
  await steps.act(manager, id, 'schedule').expect(200);
  return async () => {
    t.clock.set(new Date(Date.parse(windowStart) + 5 * 60_000).toISOString());
    await steps.act(implementer, id, 'start').expect(200);
    t.clock.set(new Date(Date.parse(windowStart) + 30 * 60_000).toISOString());
    const done = await steps.act(implementer, id, 'complete', { outcome });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
  };
}

describe('change KPIs (REL-03)', () => {
  beforeAll(async () => {
    t.clock.set(T0);
    const succeeded = await steps.awaitingApproval(requester, manager, rfc({ ...tested }));
    const failed = await steps.awaitingApproval(requester, manager, rfc({ ...tested, cis: ['nw-pos-sync-01'], services: [], window: { start: '2026-03-11T20:00:00Z', end: '2026-03-11T22:00:00Z' } }));
    const reworked = await steps.awaitingApproval(requester, manager, rfc({ cis: ['nw-pay-api-01'], services: [] }));
    await steps.act(manager, reworked, 'reject', { rationale: 'no load test' }).expect(200);
    await steps.act(requester, reworked, 'submit').expect(200);
    // Waits for the CAB: medium risk.
    await steps.awaitingApproval(requester, manager, rfc({ cis: ['nw-db-01'], services: [], risk: mediumRisk, window: { start: '2026-03-12T20:00:00Z', end: '2026-03-12T21:00:00Z' } }));
    const emergency = await steps.create(requester, rfc({ type: 'emergency', cis: ['nw-fw-01'], services: [] }));
    await steps.act(requester, emergency.id, 'submit').expect(200);

    // Approval cycles of 2h and 6h.
    const implementSucceeded = await implement(succeeded, '2026-03-02T12:00:00Z', '2026-03-10T20:00:00Z', 'successful');
    const implementFailed = await implement(failed, '2026-03-02T16:00:00Z', '2026-03-11T20:00:00Z', 'failed');
    await implementSucceeded();
    await implementFailed();
    // Reported by phone and deployed before now: both lie in the past of the clock.
    t.clock.set('2026-03-12T12:00:00Z');
    // An incident on the successful change's CI within 72 hours of its completion.
    const desk = await t.tokenFor('service_desk');
    await t.http.post('/api/v1/incidents').set(as(desk)).send({ title: 'Shop slow since last night', client: 'northwind', cis: ['nw-web-01'], severity: 3, source: 'phone', reportedAt: '2026-03-12T09:00:00Z' }).expect(201);
    await t.http.post('/api/v1/change-events').set(as('dev-only-change-events-token-change-me')).send({ id: 'hotfix-1', summary: 'hotfix', source: 'jenkins', ci: 'nw-web-02', time: '2026-03-05T03:00:00Z' }).expect(201);
  });

  it('computes success, emergency share, CAB backlog, approval cycle, rework, incidents after changes and unauthorized changes per client and period', async () => {
    const res = await t.http.get('/api/v1/changes/kpis?client=northwind&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z').set(as(manager));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      client: 'northwind',
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      successRate: { completed: 2, successful: 1, rate: 0.5 },
      followedByIncidents: { completed: 2, followed: 1, rate: 0.5, windowHours: 72, confirmedCause: 0 },
      emergencyChanges: { submitted: 5, emergency: 1, percentage: 20 },
      rework: { submitted: 5, resubmitted: 1, rate: 0.2 },
      approvalCycleTime: { approved: 2, medianHours: 4, averageHours: 4 },
      cabBacklog: { pending: 1, oldestWaitingSince: T0 },
      unauthorizedChanges: 1,
      byTeam: [],
    });
  });

  it('gives success per implementing team (REL-03 trends by team)', async () => {
    const current = t.configStore.current;
    t.configStore.replace({ ...current, teams: [...current.teams, { id: 'web-ops', name: 'Web operations', members: ['impl@test.example'] }] });
    try {
      const res = await t.http.get('/api/v1/changes/kpis?client=northwind&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z').set(as(manager));
      expect(res.body.byTeam).toEqual([{ team: 'web-ops', completed: 2, successful: 1, successRate: 0.5, emergency: 0 }]);
    } finally {
      t.configStore.replace(current);
    }
  });

  it('filters by client and period, defaults to the last 90 days, and refuses bad parameters', async () => {
    const globex = await t.http.get('/api/v1/changes/kpis?client=globex').set(as(manager));
    expect(globex.body).toMatchObject({ from: '2025-12-12T12:00:00.000Z', to: '2026-03-12T12:00:00.000Z', successRate: { completed: 0, rate: null }, approvalCycleTime: { approved: 0, medianHours: null }, cabBacklog: { pending: 0 }, unauthorizedChanges: 0 });
    const before = await t.http.get('/api/v1/changes/kpis?to=2026-03-01T00:00:00Z').set(as(manager));
    expect(before.body).toMatchObject({ emergencyChanges: { submitted: 0, percentage: null }, cabBacklog: { pending: 1 } });
    const bad = await t.http.get('/api/v1/changes/kpis?from=2026-03-10&to=2026-03-01').set(as(manager));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ path: 'to', message: 'to must be after from' }]);
    expect((await t.http.get('/api/v1/changes/kpis?client=nobody').set(as(manager))).body.error.details).toEqual([{ path: 'client', message: 'unknown client "nobody"' }]);
    expect((await t.http.get('/api/v1/changes/kpis').set(as(requester))).status).toBe(403);
  });

  it('exports Prometheus gauges read from the database at scrape time', async () => {
    const metrics = await t.scrapeMetrics();
    expect(metrics).toContain('incidentd_changes_cab_backlog 1');
    expect(metrics).toContain('incidentd_changes_rate{kpi="success"} 0.5');
    expect(metrics).toContain('incidentd_changes_rate{kpi="emergency"} 0.2');
    expect(metrics).toContain('incidentd_changes_approval_cycle_seconds{stat="median"} 14400');
    expect(metrics).toContain('incidentd_changes_unauthorized{client="northwind"} 1');
  });
});
