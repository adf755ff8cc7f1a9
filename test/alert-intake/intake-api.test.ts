import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN, GENERIC_TOKEN } from '../support/alert-payloads';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let staff: string;

beforeAll(async () => {
  t = await startTestApp();
  staff = await t.tokenFor('service_desk');
});
afterAll(async () => t?.close());

const post = (path: string, body: unknown, token = AM_TOKEN) => t.http.post(`/api/v1/alerts/${path}`).set('Authorization', `Bearer ${token}`).send(body as object);
const count = async (sql: string, params: unknown[] = []) => Number((await t.orm.em.fork().getConnection().execute<{ count: string }[]>(sql, params))[0]!.count);
const incidentsOf = async (groupKey: string) => {
  await t.app.services.alertProcessor.drain();
  const rows = await t.orm.em.fork().getConnection().execute<{ number: number }[]>("select number from incident where dedup_key like ? order by id", [`%|${groupKey}|%`]);
  return Promise.all(rows.map(async (row) => (await t.http.get(`/api/v1/incidents/INC-${row.number}`).set('Authorization', `Bearer ${staff}`)).body));
};

describe('webhook authentication', () => {
  it('accepts the integration token as Bearer or as the Basic auth password', async () => {
    const body = alertmanagerPayload('{}:{auth="1"}', [{ labels: { alertname: 'AuthCheck', client: 'northwind' } }]);
    expect((await post('alertmanager', body)).status).toBe(202);
    const basic = await t.http.post('/api/v1/alerts/alertmanager').auth('alertmanager', AM_TOKEN).send(body);
    expect(basic.status).toBe(202);
  });

  it('refuses a wrong token, and a token of another integration type, and counts the rejection', async () => {
    const body = alertmanagerPayload('{}:{auth="2"}', [{ labels: { alertname: 'AuthCheck' } }]);
    const wrong = await post('alertmanager', body, 'not-the-token-at-all');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthenticated');
    expect((await post('alertmanager', body, GENERIC_TOKEN)).status).toBe(401);
    const metrics = await t.scrapeMetrics();
    expect(metrics).toMatch(/incidentd_webhook_rejected_total\{reason="unauthorized"\} 2/);
  });
});

describe('bad input', () => {
  it('answers 400 listing every problem by path, and stores nothing', async () => {
    const before = await count('select count(*) from webhook_delivery');
    const res = await post('alertmanager', { version: '3', groupKey: '', alerts: [{ status: 'burning', labels: { a: 1 } }] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['version', 'groupKey', 'status', 'alerts.0.status', 'alerts.0.labels.a', 'alerts.0.startsAt', 'alerts.0.fingerprint']));
    expect(await count('select count(*) from webhook_delivery')).toBe(before);
  });

  it('answers 400 for malformed JSON with the parse problem and counts it', async () => {
    const res = await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).set('Content-Type', 'application/json').send('{"version": "4", ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('malformed_json');
    expect(await t.scrapeMetrics()).toMatch(/incidentd_webhook_rejected_total\{reason="malformed_json"\} 1/);
  });
});

describe('from alerts to incidents', () => {
  it('stores the raw payload and the alert before answering, then opens a prioritized incident for the right client', async () => {
    const body = alertmanagerPayload('{}:{alertname="PaymentsErrors"}', [
      { labels: { alertname: 'PaymentsErrors', client: 'northwind', service: 'nw-payments', ci: 'nw-pay-api-01', severity: 'critical' }, annotations: { summary: 'Payments API failing', description: 'HTTP 5xx above 5% for 5m' } },
    ]);
    const res = await post('alertmanager', body);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'accepted', alerts: 1, changed: 1 });
    // Durable before acknowledged: the rows exist the moment the 2xx arrives.
    expect(await count('select count(*) from webhook_delivery where id = ?', [res.body.deliveryId])).toBe(1);
    expect(await count("select count(*) from alert where labels->>'alertname' = 'PaymentsErrors'")).toBe(1);

    const [incident] = await incidentsOf('{}:{alertname="PaymentsErrors"}');
    expect(incident).toMatchObject({
      title: 'Payments API failing',
      description: 'HTTP 5xx above 5% for 5m',
      clientId: 'northwind',
      serviceIds: ['nw-payments'],
      ciIds: ['nw-pay-api-01'],
      severity: 1,
      urgency: 'high',
      priority: 'P1',
      state: 'new',
      source: 'monitoring',
      pirRequired: true,
      alertCounts: { firing: 1, resolved: 0 },
    });
    expect(incident.id).toMatch(/^INC-\d{4,}$/);
    expect(incident.timeline[0]).toMatchObject({ type: 'incident.created', actor: { type: 'integration', name: 'alertmanager' } });
  });

  it('is idempotent: the same webhook three times is one alert and one incident', async () => {
    const body = alertmanagerPayload('{}:{alertname="DiskFull"}', [{ labels: { alertname: 'DiskFull', client: 'globex', ci: 'gx-report-01', severity: 'warning' } }]);
    for (let i = 0; i < 3; i += 1) expect((await post('alertmanager', body)).status).toBe(202);
    expect(await count("select count(*) from alert where labels->>'alertname' = 'DiskFull'")).toBe(1);
    expect(await count("select count(*) from webhook_delivery where group_key = '{}:{alertname=\"DiskFull\"}'")).toBe(3);
    expect(await incidentsOf('{}:{alertname="DiskFull"}')).toHaveLength(1);
  });

  it('creates exactly one incident when an HA pair delivers the same group concurrently', async () => {
    const body = alertmanagerPayload('{}:{alertname="CoreSwitchDown"}', [
      { labels: { alertname: 'CoreSwitchDown', client: 'acme-health', ci: 'ah-fw-01', severity: 'critical' } },
      { labels: { alertname: 'CoreSwitchDown', client: 'acme-health', ci: 'ah-vpn-01', severity: 'critical' } },
    ]);
    const results = await Promise.all(Array.from({ length: 12 }, () => post('alertmanager', body)));
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(202));
    // Several processors racing, as with several daemons on one database.
    await Promise.all([t.app.services.alertProcessor.drain(), t.app.services.alertProcessor.drain(), t.app.services.alertProcessor.drain()]);
    expect(await count("select count(*) from alert where labels->>'alertname' = 'CoreSwitchDown'")).toBe(2);
    const incidents = await incidentsOf('{}:{alertname="CoreSwitchDown"}');
    expect(incidents).toHaveLength(1);
    expect(incidents[0].alertCounts).toEqual({ firing: 2, resolved: 0 });
  });

  it('attaches new alerts of the group to the open incident and raises its severity, never lowers it', async () => {
    const key = '{}:{alertname="WebSlow"}';
    await post('alertmanager', alertmanagerPayload(key, [{ labels: { alertname: 'WebSlow', client: 'northwind', ci: 'nw-web-01', severity: 'warning' } }]));
    await incidentsOf(key);
    await post('alertmanager', alertmanagerPayload(key, [
      { labels: { alertname: 'WebSlow', client: 'northwind', ci: 'nw-web-01', severity: 'warning' } },
      { labels: { alertname: 'WebSlow', client: 'northwind', ci: 'nw-web-02', severity: 'high' } },
    ]));
    await post('alertmanager', alertmanagerPayload(key, [{ labels: { alertname: 'WebSlow', client: 'northwind', ci: 'nw-lb-01', severity: 'info' } }]));
    const [incident] = await incidentsOf(key);
    expect(incident.severity).toBe(2);
    expect(incident.priority).toBe('P2');
    expect(incident.category).toBe('performance_degradation');
    expect(incident.ciIds.sort()).toEqual(['nw-lb-01', 'nw-web-01', 'nw-web-02']);
    expect(incident.timeline.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['alert.attached', 'severity.changed', 'priority.changed']));
    expect(incident.timeline.find((e: { type: string }) => e.type === 'severity.changed').message).toBe('severity raised 3 -> 2 by a new alert');
  });

  it('resolves the incident when every alert has cleared, and re-opens it when one fires again within the window', async () => {
    const key = '{}:{alertname="VpnDown"}';
    const firing = { labels: { alertname: 'VpnDown', client: 'acme-health', ci: 'ah-vpn-01', severity: 'high' } };
    await post('alertmanager', alertmanagerPayload(key, [firing]));
    await post('alertmanager', alertmanagerPayload(key, [{ ...firing, status: 'resolved' }]));
    let [incident] = await incidentsOf(key);
    expect(incident.state, JSON.stringify(incident.timeline.map((e: { message: string }) => e.message)) + JSON.stringify(incident.alerts)).toBe('resolved');
    expect(incident.resolutionSummary).toBe('alerts cleared');
    // A late "firing" from the lagging Alertmanager of an HA pair does not undo the resolution.
    await post('alertmanager', alertmanagerPayload(key, [firing]));
    [incident] = await incidentsOf(key);
    expect(incident.state).toBe('resolved');

    // A real re-fire has a new startsAt.
    await post('alertmanager', alertmanagerPayload(key, [{ ...firing, startsAt: '2026-03-02T10:30:00.000Z' }]));
    const incidents = await incidentsOf(key);
    expect(incidents).toHaveLength(1);
    expect(incidents[0].state).toBe('investigating');
    expect(incidents[0].timeline.at(-2).message).toBe('resolved -> investigating: VpnDown fired again');
  });

  it('opens a new incident when the alert fires again after the re-open window', async () => {
    const key = '{}:{alertname="NasDegraded"}';
    const firing = { labels: { alertname: 'NasDegraded', client: 'acme-health', ci: 'ah-nas-01', severity: 'warning' } };
    await post('alertmanager', alertmanagerPayload(key, [firing]));
    await post('alertmanager', alertmanagerPayload(key, [{ ...firing, status: 'resolved' }]));
    await incidentsOf(key);
    t.clock.advance(2 * 3_600_000);
    await post('alertmanager', alertmanagerPayload(key, [{ ...firing, startsAt: '2026-03-02T12:30:00.000Z' }]));
    const incidents = await incidentsOf(key);
    expect(incidents.map((i: { state: string }) => i.state)).toEqual(['resolved', 'new']);
  });

  it('puts an alert for an unknown client in the triage queue instead of dropping it', async () => {
    const key = '{}:{alertname="OrphanAlert"}';
    const res = await post('alertmanager', alertmanagerPayload(key, [{ labels: { alertname: 'OrphanAlert', client: 'initech', severity: 'critical' } }]));
    expect(res.status).toBe(202);
    const [incident] = await incidentsOf(key);
    expect(incident.clientId).toBeNull();
    expect(incident.timeline.find((e: { type: string }) => e.type === 'routing').message).toContain('unknown client "initech"');
    const queue = await t.http.get('/api/v1/incidents?open=true').set('Authorization', `Bearer ${staff}`);
    expect(queue.body.items.some((i: { id: string; clientId: string | null }) => i.id === incident.id && i.clientId === null)).toBe(true);
  });

  it('records truncated alerts and accepts a 10 MB alert storm in one group', async () => {
    const key = '{}:{alertname="Storm"}';
    const alerts = Array.from({ length: 9000 }, (_, i) => ({
      labels: { alertname: 'Storm', client: 'globex', instance: `gx-host-${i}:9100`, severity: 'warning', job: 'node', team: 'infra' },
      annotations: { summary: `Storm on host ${i}`, description: 'x'.repeat(900) },
    }));
    const body = alertmanagerPayload(key, alerts, { truncatedAlerts: 250 });
    const size = Buffer.byteLength(JSON.stringify(body));
    expect(size).toBeGreaterThan(10 * 1024 * 1024);
    const res = await post('alertmanager', body);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ alerts: 9000, truncatedAlerts: 250 });
    const [incident] = await incidentsOf(key);
    expect(incident.truncatedAlerts).toBe(250);
    expect(incident.alertCounts.firing).toBe(9000);
    expect(incident.timeline.some((e: { message: string }) => e.message.includes('truncated 250 alerts'))).toBe(true);
  }, 60_000);
});

describe('generic alerts', () => {
  it('logs a client-reported incident and resolves it by dedup key', async () => {
    const trigger = await post('generic', { summary: 'Clinic reports EHR login failing', source: 'phone', reportedBy: 'Dr. Ortiz, +1 555 0100', client: 'acme-health', service: 'ah-ehr', severity: 2, dedupKey: 'call-7731' }, GENERIC_TOKEN);
    expect(trigger.status).toBe(202);
    const retry = await post('generic', { summary: 'Clinic reports EHR login failing', source: 'phone', client: 'acme-health', service: 'ah-ehr', severity: 2, dedupKey: 'call-7731' }, GENERIC_TOKEN);
    expect(retry.body.changed).toBe(0);
    let [incident] = await incidentsOf('call-7731');
    expect(incident).toMatchObject({ source: 'phone', reportedBy: 'Dr. Ortiz, +1 555 0100', clientId: 'acme-health', serviceIds: ['ah-ehr'], severity: 2, state: 'new' });

    const resolve = await post('generic', { summary: 'EHR login works again', action: 'resolve', dedupKey: 'call-7731' }, GENERIC_TOKEN);
    expect(resolve.body.changed).toBe(1);
    [incident] = await incidentsOf('call-7731');
    expect(incident.state).toBe('resolved');
  });

  it('refuses a resolve without a dedup key', async () => {
    const res = await post('generic', { summary: 'x', action: 'resolve' }, GENERIC_TOKEN);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: 'dedupKey', message: 'resolve needs the dedupKey of the alert to resolve' }]);
  });
});

describe('metrics', () => {
  it('counts received alerts, creations, open incidents and ingest time', async () => {
    const text = await t.scrapeMetrics();
    expect(text).toMatch(/incidentd_alerts_received_total\{integration="alertmanager",status="firing"\} \d+/);
    expect(text).toMatch(/incidentd_alerts_received_total\{integration="alertmanager",status="resolved"\} \d+/);
    expect(text).toMatch(/incidentd_incidents_created_total\{client="northwind",severity="1",category="other"\} 1/);
    expect(text).toMatch(/incidentd_incidents_open\{client="triage",severity="1"\} 1/);
    expect(text).toMatch(/incidentd_ingest_seconds_count \d+/);
  });
});
