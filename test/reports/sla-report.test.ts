import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

// Example configuration: northwind Sev1 respond 15m / resolve 4h, 24x7.
let t: TestApp;
let desk: string;
let manager: string;
const as = (token: string) => ({ Authorization: `Bearer ${token}` });
const minutes = (n: number) => n * 60_000;

beforeAll(async () => {
  t = await startTestApp();
  desk = await t.tokenFor('service_desk');
  manager = await t.tokenFor('incident_manager');
});
afterAll(async () => t?.close());

async function open(severity: number, client = 'northwind') {
  const res = await t.http.post('/api/v1/incidents').set(as(desk)).send({ title: 'Checkout down', client, services: client === 'northwind' ? ['nw-webshop'] : [], source: 'phone', severity });
  expect(res.status).toBe(201);
  return res.body.id as string;
}
const step = (id: string, path: string, body: Record<string, unknown> = {}) => t.http.post(`/api/v1/incidents/${id}/${path}`).set(as(desk)).send(body).expect(200);

describe('SLA performance report (INC-13)', () => {
  it('counts met, breached and running clocks per client, severity and clock, with mean and p90 times', async () => {
    // Sev1 A: acknowledged after 5 min (met), resolved after 1 h (met).
    const a = await open(1);
    t.clock.advance(minutes(5));
    await step(a, 'acknowledge');
    t.clock.advance(minutes(55));
    await step(a, 'transition', { to: 'resolved', resolutionSummary: 'restarted' });
    // Sev1 B: acknowledged after 25 min (response breached at 15), still open.
    const b = await open(1);
    t.clock.advance(minutes(25));
    await t.app.services.timers.runDue();
    await step(b, 'acknowledge');
    // A Sev3 for another client, and a cancelled Sev1 that does not count.
    await open(3, 'globex');
    const cancelled = await open(1);
    await step(cancelled, 'transition', { to: 'cancelled', reason: 'false positive' });

    const report = (await t.http.get('/api/v1/reports/sla?client=northwind').set(as(manager))).body;
    expect(report.lines).toEqual([
      expect.objectContaining({ clientId: 'northwind', severity: 1, clock: 'resolution', incidents: 2, met: 1, breached: 0, running: 1, compliance: 1, averageMs: minutes(60), average: '1h' }),
      expect.objectContaining({ clientId: 'northwind', severity: 1, clock: 'response', incidents: 2, met: 1, breached: 1, running: 0, compliance: 0.5, averageMs: minutes(15), average: '15m' }),
    ]);
    expect(report.overallCompliance).toBeCloseTo(2 / 3);
    const all = (await t.http.get('/api/v1/reports/sla').set(as(manager))).body;
    expect(all.lines.map((line: { clientId: string }) => line.clientId)).toEqual(['globex', 'globex', 'northwind', 'northwind']);
  });

  it('checks its filters and who may read it', async () => {
    expect((await t.http.get('/api/v1/reports/sla?client=nobody').set(as(manager))).status).toBe(400);
    expect((await t.http.get('/api/v1/reports/sla?from=2026-03-05T00:00:00Z&to=2026-03-01T00:00:00Z').set(as(manager))).status).toBe(400);
    expect((await t.http.get('/api/v1/reports/sla').set(as(desk))).status).toBe(403);
    const empty = (await t.http.get('/api/v1/reports/sla?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z').set(as(manager))).body;
    expect(empty).toMatchObject({ lines: [], overallCompliance: null });
  });
});
