import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertProcessor } from '../../src/features/incidents/alert-processor';
import { createLogger } from '../../src/platform/logger';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { writeConfig } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

// Small processing batches, so several processors really contend for one alert group.
let t: TestApp;
let staff: string;

beforeAll(async () => {
  const config = writeConfig({
    incidents: { autoResolveOnClear: false },
    integrations: [
      { name: 'alertmanager', type: 'alertmanager', token: AM_TOKEN },
      { name: 'grafana', type: 'grafana', token: 'grafana-token-for-tests-000' },
    ],
  });
  t = await startTestApp({ alertBatchSize: 1, configFile: config });
  staff = await t.tokenFor('service_desk');
});
afterAll(async () => t?.close());

const post = (path: string, body: unknown, token = AM_TOKEN) => t.http.post(`/api/v1/alerts/${path}`).set('Authorization', `Bearer ${token}`).send(body as object);
async function incidentsOfGroup(groupKey: string) {
  await t.app.services.alertProcessor.drain();
  const rows = await t.orm.em.fork().getConnection().execute<{ number: number }[]>('select number from incident where dedup_key like ? order by id', [`%|${groupKey}|%`]);
  return Promise.all(rows.map(async (row) => (await t.http.get(`/api/v1/incidents/INC-${row.number}`).set('Authorization', `Bearer ${staff}`)).body));
}

describe('processors racing for one alert group', () => {
  it('agree on one incident when each claims a different alert of the group', async () => {
    // No background processing: only the four racing processors below touch these alerts.
    await t.app.services.alertProcessor.stop();
    const key = '{}:{alertname="RaceGroup"}';
    const alerts = Array.from({ length: 6 }, (_, i) => ({ labels: { alertname: 'RaceGroup', client: 'globex', instance: `gx-race-${i}:9100`, severity: 'high' } }));
    await post('alertmanager', alertmanagerPayload(key, alerts));
    // Four processors at once (as in four daemons: each its own registration and claims), one alert per batch each.
    const { incidents: incidentService, audit, poison } = t.app.services;
    const racers = Array.from({ length: 4 }, () =>
      createAlertProcessor({ orm: t.orm, clock: t.clock, configStore: t.configStore, incidents: incidentService, audit, poison, bus: t.app.bus, logger: createLogger('silent'), batchSize: 1 }),
    );
    await Promise.all(racers.map((racer) => racer.drain()));
    await Promise.all(racers.map((racer) => racer.stop()));
    const incidents = await incidentsOfGroup(key);
    expect(incidents).toHaveLength(1);
    expect(incidents[0].alertCounts).toEqual({ firing: 6, resolved: 0 });
  });
});

describe('alerts that resolve before they are processed', () => {
  it('still become an incident, resolved or flagged at once', async () => {
    const key = '{}:{alertname="Blip"}';
    const labels = { alertname: 'Blip', client: 'northwind', ci: 'nw-web-02', severity: 'critical' };
    // Firing and resolved in one delivery: the stored row is resolved before anyone processed it.
    const res = await post('alertmanager', alertmanagerPayload(key, [{ labels }, { labels, status: 'resolved' }]));
    expect(res.status).toBe(202);
    const [incident] = await incidentsOfGroup(key);
    expect(incident).toMatchObject({ clientId: 'northwind', severity: 1, alertCounts: { firing: 0, resolved: 1 } });
    // This configuration only flags cleared incidents instead of resolving them.
    expect(incident.state).toBe('new');
    expect(incident.alertsClearedAt).not.toBeNull();
    expect(incident.timeline.map((e: { type: string }) => e.type)).toContain('alerts.cleared');
  });
});

describe('Grafana', () => {
  it('accepts the Grafana contact point payload, with or without fingerprints, idempotently', async () => {
    const body = {
      receiver: 'incidentd',
      status: 'firing',
      orgId: 1,
      groupKey: '{}/{}:{alertname="GrafanaCpu"}',
      truncatedAlerts: 0,
      title: '[FIRING:1] GrafanaCpu',
      state: 'alerting',
      message: 'CPU high',
      externalURL: 'http://grafana.example/',
      version: '1',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'GrafanaCpu', client: 'globex', ci: 'gx-trade-app-01', severity: 'warning' },
          annotations: { summary: 'CPU above 90% on the trading app' },
          startsAt: '2026-03-02T09:50:00Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://grafana.example/alerting/grafana/abc/view',
          dashboardURL: 'http://grafana.example/d/xyz',
          valueString: '[ var=A value=93 ]',
        },
      ],
    };
    expect((await post('grafana', body, 'grafana-token-for-tests-000')).status).toBe(202);
    expect((await post('grafana', body, 'grafana-token-for-tests-000')).body.changed).toBe(0);
    const [incident] = await incidentsOfGroup('{}/{}:{alertname="GrafanaCpu"}');
    expect(incident).toMatchObject({ title: 'CPU above 90% on the trading app', clientId: 'globex', ciIds: ['gx-trade-app-01'], severity: 3, alertCounts: { firing: 1, resolved: 0 } });
    expect(incident.alerts[0].fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('input PostgreSQL cannot store', () => {
  it('is refused with 400 and the path, so the sender does not retry it forever', async () => {
    const body = alertmanagerPayload('{}:{alertname="Nul"}', [{ labels: { alertname: 'Nul', client: 'globex', note: 'a\u0000b' } }]);
    const res = await post('alertmanager', body);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: 'alerts.0.labels.note', message: 'contains a NUL character or invalid Unicode' }]);
    const year0 = alertmanagerPayload('{}:{alertname="Y0"}', [{ labels: { alertname: 'Y0' }, startsAt: '0000-01-01T00:00:00Z' }]);
    expect((await post('alertmanager', year0)).status).toBe(400);
  });
});

describe('API details', () => {
  it('filters the triage queue', async () => {
    await post('alertmanager', alertmanagerPayload('{}:{alertname="Nobody"}', [{ labels: { alertname: 'Nobody', client: 'unknown-co' } }]));
    await t.app.services.alertProcessor.drain();
    const queue = await t.http.get('/api/v1/incidents?triage=true').set('Authorization', `Bearer ${staff}`);
    expect(queue.body.items.length).toBeGreaterThan(0);
    expect(queue.body.items.every((i: { clientId: string | null }) => i.clientId === null)).toBe(true);
    const closed = await t.http.get('/api/v1/incidents?open=false').set('Authorization', `Bearer ${staff}`);
    expect(closed.body.items.every((i: { state: string }) => ['resolved', 'closed', 'cancelled'].includes(i.state))).toBe(true);
  });

  it('changes urgency (recomputing priority) and category, with the reason on the timeline', async () => {
    const [incident] = await incidentsOfGroup('{}/{}:{alertname="GrafanaCpu"}');
    const urgent = await t.http.post(`/api/v1/incidents/${incident.id}/urgency`).set('Authorization', `Bearer ${staff}`).send({ urgency: 'high', reason: 'end of quarter trading' });
    expect(urgent.body).toMatchObject({ urgency: 'high', priority: 'P3' });
    const categorized = await t.http.post(`/api/v1/incidents/${incident.id}/category`).set('Authorization', `Bearer ${staff}`).send({ category: 'performance_degradation' });
    expect(categorized.body.category).toBe('performance_degradation');
    const stale = await t.http.post(`/api/v1/incidents/${incident.id}/category`).set('Authorization', `Bearer ${staff}`).send({ category: 'software_bug', expectedVersion: incident.version });
    expect(stale.status).toBe(409);
  });
});
