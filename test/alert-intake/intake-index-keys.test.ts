import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN, GENERIC_TOKEN } from '../support/alert-payloads';
import { writeConfig } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

// Keys that reach a database index (issue 14 §1, §2): a 202 must always become an incident,
// and input that can never be stored must answer 400, not 500 (which Alertmanager retries forever).
const GRAFANA_TOKEN = 'grafana-token-for-index-keys-0';
let t: TestApp;
let staff: string;

beforeAll(async () => {
  const config = writeConfig({
    integrations: [
      { name: 'alertmanager', type: 'alertmanager', token: AM_TOKEN },
      { name: 'grafana', type: 'grafana', token: GRAFANA_TOKEN },
      { name: 'generic', type: 'generic', token: GENERIC_TOKEN },
    ],
  });
  t = await startTestApp({ configFile: config });
  staff = await t.tokenFor('service_desk');
});
afterAll(async () => t?.close());

/** Random, so PostgreSQL cannot compress it into an index entry that happens to fit. */
const randomText = (length: number) => randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
const post = (path: string, body: unknown, token = AM_TOKEN) => t.http.post(`/api/v1/alerts/${path}`).set('Authorization', `Bearer ${token}`).send(body as object);
const count = async (sql: string, params: unknown[] = []) => Number((await t.orm.em.fork().getConnection().execute<{ count: string }[]>(sql, params))[0]!.count);
async function incidentsWithDedupKey(dedupKey: string) {
  await t.app.services.alertProcessor.drain();
  const rows = await t.orm.em.fork().getConnection().execute<{ number: number }[]>('select number from incident where dedup_key = ? order by id', [dedupKey]);
  return Promise.all(rows.map(async (row) => (await t.http.get(`/api/v1/incidents/INC-${row.number}`).set('Authorization', `Bearer ${staff}`)).body));
}

function grafanaPayload(groupKey: string, alert: { alertname: string; fingerprint?: string }) {
  return {
    receiver: 'incidentd',
    status: 'firing',
    groupKey,
    truncatedAlerts: 0,
    externalURL: 'http://grafana.example/',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: alert.alertname, client: 'globex', severity: 'critical' },
        annotations: { summary: `${alert.alertname} is failing` },
        startsAt: '2026-03-02T09:50:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://grafana.example/alerting/1/view',
        ...(alert.fingerprint === undefined ? {} : { fingerprint: alert.fingerprint }),
      },
    ],
  };
}

describe('an oversized group key', () => {
  it('is accepted, and its alerts become one incident that later alerts of the group join', async () => {
    const groupKey = `{}/{client="globex"}:{alertname="LongGroup", detail="${randomText(3000)}"}`;
    const first = await post('alertmanager', alertmanagerPayload(groupKey, [{ labels: { alertname: 'LongGroup', client: 'globex', ci: 'gx-trade-app-01', severity: 'critical' } }]));
    expect(first.status).toBe(202);
    let incidents = await incidentsWithDedupKey(`alertmanager|${groupKey}|globex`);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ clientId: 'globex', severity: 1, alertCounts: { firing: 1, resolved: 0 } });
    expect(await count('select count(*) from alert where needs_processing')).toBe(0);

    const second = await post('alertmanager', alertmanagerPayload(groupKey, [{ labels: { alertname: 'LongGroup', client: 'globex', ci: 'gx-trade-app-02', severity: 'critical' } }]));
    expect(second.status).toBe(202);
    incidents = await incidentsWithDedupKey(`alertmanager|${groupKey}|globex`);
    expect(incidents).toHaveLength(1);
    expect(incidents[0].alertCounts).toEqual({ firing: 2, resolved: 0 });
  });

  it('from Grafana too', async () => {
    const groupKey = `{}/{}:{alertname="GrafanaLong", x="${randomText(5000)}"}`;
    expect((await post('grafana', grafanaPayload(groupKey, { alertname: 'GrafanaLong' }), GRAFANA_TOKEN)).status).toBe(202);
    expect(await incidentsWithDedupKey(`grafana|${groupKey}|globex`)).toHaveLength(1);
  });

  it('is refused with 400 beyond 64 KiB (every alert row keeps a copy)', async () => {
    const res = await post('alertmanager', alertmanagerPayload(randomText(65_537), [{ labels: { alertname: 'HugeGroup' } }]));
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: 'groupKey', message: 'at most 65536 characters' }]);
  });
});

describe('an oversized fingerprint', () => {
  const fingerprintProblem = (path: string) => ({ path, message: 'at most 255 characters (it identifies the alert; Alertmanager and Grafana send 16)' });

  it('is refused by Alertmanager intake with 400 naming the field and the limit, and nothing is stored', async () => {
    const deliveries = await count('select count(*) from webhook_delivery');
    for (const length of [3000, 1024 * 1024]) {
      const body = alertmanagerPayload('{}:{alertname="LongFingerprint"}', [{ labels: { alertname: 'LongFingerprint', client: 'globex' } }]);
      body.alerts[0]!.fingerprint = randomText(length);
      const res = await post('alertmanager', body);
      expect(res.status, `fingerprint of ${length} characters`).toBe(400);
      expect(res.body.error.details).toEqual([fingerprintProblem('alerts.0.fingerprint')]);
    }
    expect(await count('select count(*) from webhook_delivery')).toBe(deliveries);
  });

  it('is refused by Grafana intake the same way; Grafana alerts without a fingerprint still work', async () => {
    const res = await post('grafana', grafanaPayload('{}/{}:{alertname="GrafanaFp"}', { alertname: 'GrafanaFp', fingerprint: randomText(3000) }), GRAFANA_TOKEN);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([fingerprintProblem('alerts.0.fingerprint')]);
    expect((await post('grafana', grafanaPayload('{}/{}:{alertname="GrafanaFp"}', { alertname: 'GrafanaFp' }), GRAFANA_TOKEN)).status).toBe(202);
  });

  it('as a generic dedupKey is refused with the limit too', async () => {
    const res = await post('generic', { summary: 'Long key', dedupKey: randomText(3000) }, GENERIC_TOKEN);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: 'dedupKey', message: 'at most 255 characters (it identifies the alert)' }]);
    expect((await post('generic', { summary: 'Longest key', dedupKey: randomText(255), client: 'globex' }, GENERIC_TOKEN)).status).toBe(202);
  });
});
