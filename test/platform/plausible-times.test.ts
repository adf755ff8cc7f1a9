import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { implausibleInstants } from '../../src/platform/plausible-time';
import { as, changeSteps, rfc, startChangeTestApp } from '../changes/change-fixtures';
import { AM_TOKEN, GENERIC_TOKEN, alertmanagerPayload } from '../support/alert-payloads';
import type { TestApp } from '../support/test-app';

// Instants that cannot be meant (9999-12-31, 1970, a report time next week) answer 400
// naming the field; the bounds and why are in src/platform/plausible-time.ts.

const DEPLOY_TOKEN = 'dev-only-change-events-token-change-me';
const NOW = '2026-03-02T10:00:00Z';
const FAR_FUTURE = '9999-12-31T00:00:00Z';

describe('the bounds (pure)', () => {
  const now = new Date(NOW);
  const paths = (meaning: 'happened' | 'planned', at: string) => implausibleInstants(now, meaning, { at }).map((problem) => problem.path);

  it('something that happened: up to five minutes ahead (clock skew), up to a year back', () => {
    expect(paths('happened', '2026-03-02T10:05:00Z')).toEqual([]);
    expect(paths('happened', '2026-03-02T10:05:01Z')).toEqual(['at']);
    expect(paths('happened', '2025-03-01T10:00:00Z')).toEqual([]);
    expect(paths('happened', '2025-02-28T09:59:59Z')).toEqual(['at']);
    expect(implausibleInstants(now, 'happened', { reportedAt: FAR_FUTURE })[0]!.message).toBe('9999-12-31T00:00:00.000Z lies in the future (now 2026-03-02T10:00:00.000Z); latest accepted 2026-03-02T10:05:00.000Z');
  });

  it('something planned: up to two years ahead, up to a year back; absent values are not checked', () => {
    expect(paths('planned', '2028-03-03T10:00:00Z')).toEqual([]);
    expect(paths('planned', '2028-03-05T10:00:00Z')).toEqual(['at']);
    expect(paths('planned', '1970-01-01T00:00:00Z')).toEqual(['at']);
    expect(implausibleInstants(now, 'planned', { a: undefined, b: null })).toEqual([]);
  });
});

describe('routes refuse implausible instants with 400 naming the field', () => {
  let t: TestApp;
  let steps: ReturnType<typeof changeSteps>;
  let requester: string;
  let manager: string;
  let desk: string;

  beforeAll(async () => {
    ({ t, steps, requester, manager } = await startChangeTestApp());
    desk = await t.tokenFor('incident_manager', { email: 'desk@test.example' });
  });
  afterAll(async () => t?.close());

  const incident = (overrides: Record<string, unknown> = {}) => ({ title: 'Shop checkout fails', client: 'northwind', services: ['nw-webshop'], severity: 3, source: 'phone', ...overrides });
  const problemPaths = (res: { body: { error?: { details?: { path: string }[] } } }) => res.body.error?.details?.map((detail) => detail.path);

  it('an incident reported in the future or years ago; a late entry from yesterday is fine', async () => {
    t.clock.set(NOW);
    for (const reportedAt of [FAR_FUTURE, '2026-03-02T11:00:00Z', '1970-01-01T00:00:00Z']) {
      const res = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident({ reportedAt }));
      expect(res.status, reportedAt).toBe(400);
      expect(problemPaths(res), reportedAt).toEqual(['reportedAt']);
    }
    const late = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident({ reportedAt: '2026-03-01T16:30:00+01:00' }));
    expect(late.status).toBe(201);
    expect(late.body.reportedAt).toBe('2026-03-01T15:30:00.000Z');
  });

  it('a deploy event that has not happened yet', async () => {
    t.clock.set(NOW);
    const res = await t.http.post('/api/v1/change-events').set(as(DEPLOY_TOKEN)).send({ id: 'run-9999', summary: 'shop 1.0', source: 'jenkins', ci: 'nw-web-01', time: FAR_FUTURE });
    expect(res.status).toBe(400);
    expect(problemPaths(res)).toEqual(['time']);
  });

  it('a generic alert (a script, a logged call) that occurred in the future', async () => {
    t.clock.set(NOW);
    const res = await t.http.post('/api/v1/alerts/generic').set(as(GENERIC_TOKEN)).send({ summary: 'Printer on fire', client: 'northwind', dedupKey: 'printer-9999', occurredAt: FAR_FUTURE });
    expect(res.status).toBe(400);
    expect(problemPaths(res)).toEqual(['occurredAt']);
  });

  it('an Alertmanager alert from a sender whose clock is years off is accepted (a 400 would drop it) and its incident is logged now', async () => {
    t.clock.set(NOW);
    const body = alertmanagerPayload('{}:{alertname="ClockSkew"}', [{ labels: { alertname: 'ClockSkew', client: 'northwind', instance: 'nw-web-01', severity: 'warning' }, startsAt: FAR_FUTURE }]);
    expect((await t.http.post('/api/v1/alerts/alertmanager').set(as(AM_TOKEN)).send(body)).status).toBe(202);
    await t.app.services.alertProcessor.drain();
    const rows = await t.orm.em.fork().getConnection().execute<{ reported_at: Date }[]>("select reported_at from incident where alertname = 'ClockSkew'");
    expect(rows.map((row) => new Date(row.reported_at).toISOString())).toEqual(['2026-03-02T10:00:00.000Z']);
  });

  it('a change window beyond the planning horizon, on create, PATCH and schedule', async () => {
    t.clock.set(NOW);
    const farWindow = { start: '9999-12-30T20:00:00Z', end: FAR_FUTURE };
    const created = await t.http.post('/api/v1/changes').set(as(requester)).send(rfc({ window: farWindow }));
    expect(created.status).toBe(400);
    expect(problemPaths(created)).toEqual(['window.start', 'window.end']);
    const { id } = await steps.create(requester, rfc());
    const patched = await t.http.patch(`/api/v1/changes/${id}`).set(as(requester)).send({ window: farWindow });
    expect(patched.status).toBe(400);
    expect(problemPaths(patched)).toEqual(['window.start', 'window.end']);
    const approved = await steps.awaitingApproval(requester, manager);
    await steps.act(manager, approved, 'approve', { rationale: 'routine' }).expect(200);
    const scheduled = await steps.act(manager, approved, 'schedule', { window: farWindow });
    expect(scheduled.status).toBe(400);
    expect(problemPaths(scheduled)).toEqual(['window.end']);
  });

  it('a CAB meeting, a due date, an on-call override and a status override end in year 9999', async () => {
    t.clock.set(NOW);
    const cab = await t.http.post('/api/v1/cab/meetings').set(as(manager)).send({ scheduledFor: FAR_FUTURE });
    expect([cab.status, problemPaths(cab)]).toEqual([400, ['scheduledFor']]);

    const opened = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident());
    const id = opened.body.id as string;
    const task = await t.http.post(`/api/v1/incidents/${id}/tasks`).set(as(desk)).send({ title: 'Fail over the database', dueAt: FAR_FUTURE });
    expect([task.status, problemPaths(task)]).toEqual([400, ['dueAt']]);
    const goodTask = await t.http.post(`/api/v1/incidents/${id}/tasks`).set(as(desk)).send({ title: 'Fail over the database', dueAt: '2026-03-02T12:00:00Z' });
    expect(goodTask.status).toBe(201);
    const movedTask = await t.http.patch(`/api/v1/incidents/${id}/tasks/${goodTask.body.id}`).set(as(desk)).send({ dueAt: FAR_FUTURE, expectedVersion: goodTask.body.version });
    expect([movedTask.status, problemPaths(movedTask)]).toEqual([400, ['dueAt']]);

    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as(desk)).send({ to: 'resolved', resolutionSummary: 'restarted' }).expect(200);
    const review = (await t.http.post(`/api/v1/incidents/${id}/review`).set(as(desk)).send({})).body;
    const action = await t.http.post(`/api/v1/reviews/${review.id}/actions`).set(as(desk)).send({ title: 'Add a replica', owner: 'desk@test.example', dueAt: FAR_FUTURE });
    expect([action.status, problemPaths(action)]).toEqual([400, ['dueAt']]);
    const goodAction = await t.http.post(`/api/v1/reviews/${review.id}/actions`).set(as(desk)).send({ title: 'Add a replica', owner: 'desk@test.example', dueAt: '2026-04-01T00:00:00Z' });
    expect(goodAction.status).toBe(201);
    const movedAction = await t.http.patch(`/api/v1/reviews/${review.id}/actions/${goodAction.body.id}`).set(as(desk)).send({ dueAt: '1970-01-01T00:00:00Z' });
    expect([movedAction.status, problemPaths(movedAction)]).toEqual([400, ['dueAt']]);

    const override = await t.http.post('/api/v1/oncall/service-desk-primary/overrides').set(as(desk)).send({ email: 'desk@test.example', start: '2026-03-03T08:00:00Z', end: FAR_FUTURE });
    expect([override.status, problemPaths(override)]).toEqual([400, ['end']]);
    const status = await t.http.post('/api/v1/status-pages/northwind/overrides').set(as(desk)).send({ component: 'nw-email', status: 'partial_outage', reason: 'Microsoft 365 incident', expiresAt: FAR_FUTURE });
    expect([status.status, problemPaths(status)]).toEqual([400, ['expiresAt']]);
  });
});
