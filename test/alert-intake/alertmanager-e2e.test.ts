import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AM_TOKEN } from '../support/alert-payloads';
import { freePort, waitForStatus } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

// The real peer: Debian's prometheus-alertmanager and amtool (installed by .ci/run),
// sending real webhooks to incidentd. Two unclustered Alertmanagers stand in for an HA
// pair: both deliver every notification.
const run = promisify(execFile);
const workDir = mkdtempSync(path.join(tmpdir(), 'incidentd-am-'));
const alertmanagers: { url: string; process: ChildProcess }[] = [];
let t: TestApp;
let server: Server;
let staffToken: string;

beforeAll(async () => {
  t = await startTestApp();
  staffToken = await t.tokenFor('service_desk');
  server = createServer(t.app.handleRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const incidentdUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const configFile = path.join(workDir, 'alertmanager.yml');
  writeFileSync(
    configFile,
    [
      'route:',
      '  receiver: incidentd',
      "  group_by: ['alertname', 'client']",
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: incidentd',
      '    webhook_configs:',
      `      - url: ${incidentdUrl}/api/v1/alerts/alertmanager`,
      '        send_resolved: true',
      '        http_config:',
      '          authorization:',
      `            credentials: ${AM_TOKEN}`,
      '',
    ].join('\n'),
  );
  for (const name of ['am-a', 'am-b']) {
    const port = await freePort();
    const proc = spawn('prometheus-alertmanager', [
      `--config.file=${configFile}`,
      `--storage.path=${path.join(workDir, name)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ]);
    proc.on('error', (error) => {
      throw new Error(`could not start prometheus-alertmanager (apt-get install prometheus-alertmanager): ${error.message}`);
    });
    alertmanagers.push({ url: `http://127.0.0.1:${port}`, process: proc });
    await waitForStatus(`http://127.0.0.1:${port}/-/ready`, 200, 20_000);
  }
}, 60_000);

afterAll(async () => {
  for (const am of alertmanagers) am.process.kill('SIGTERM');
  server?.closeAllConnections();
  server?.close();
  await t?.close();
  rmSync(workDir, { recursive: true, force: true });
});

/**
 * `amtool alert add` against both Alertmanagers, as Prometheus sends every alert to every
 * Alertmanager it knows, with the alert's own start time (so both agree on its identity).
 */
async function amtoolAdd(labels: Record<string, string>, annotations: Record<string, string>, start: Date, end?: Date) {
  const args = ['alert', 'add', ...Object.entries(labels).map(([k, v]) => `${k}=${v}`), ...Object.entries(annotations).map(([k, v]) => `--annotation=${k}=${v}`)];
  args.push(`--start=${start.toISOString()}`);
  if (end) args.push(`--end=${end.toISOString()}`);
  for (const am of alertmanagers) await run('amtool', [...args, `--alertmanager.url=${am.url}`]);
}

async function waitForIncident(check: (incident: Record<string, any>) => boolean, timeoutMs = 20_000): Promise<Record<string, any>> {
  const started = Date.now();
  for (;;) {
    await t.app.services.alertProcessor.drain();
    const list = await t.http.get('/api/v1/incidents?client=northwind&pageSize=50').set('Authorization', `Bearer ${staffToken}`);
    for (const item of list.body.items) {
      const full = (await t.http.get(`/api/v1/incidents/${item.id}`).set('Authorization', `Bearer ${staffToken}`)).body;
      if (check(full)) return full;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`no matching incident within ${timeoutMs} ms; incidents: ${JSON.stringify(list.body.items)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('with a real Alertmanager HA pair', () => {
  it('turns fired alerts into one prioritized incident, grows it, and resolves it when the alerts end', async () => {
    const dbDownSince = new Date(Date.now() - 60_000);
    const webSince = new Date(Date.now() - 30_000);
    await amtoolAdd({ alertname: 'DatabaseDown', client: 'northwind', ci: 'nw-db-01', severity: 'critical' }, { summary: 'PostgreSQL on nw-db-01 is down' }, dbDownSince);
    let incident = await waitForIncident((i) => i.alertname === 'DatabaseDown');
    expect(incident).toMatchObject({ title: 'PostgreSQL on nw-db-01 is down', clientId: 'northwind', ciIds: ['nw-db-01'], severity: 1, priority: 'P1', state: 'new', source: 'monitoring' });

    await amtoolAdd({ alertname: 'DatabaseDown', client: 'northwind', ci: 'nw-web-01', severity: 'warning' }, { summary: 'web-01 cannot reach its database' }, webSince);
    incident = await waitForIncident((i) => i.alertname === 'DatabaseDown' && i.alertCounts.firing === 2);
    expect(incident.ciIds.sort()).toEqual(['nw-db-01', 'nw-web-01']);
    expect(incident.severity).toBe(1);

    // Both Alertmanagers deliver every notification (the second one's may still be on its way
    // when the first has grown the incident), yet each alert is stored once.
    const countDeliveries = async () =>
      Number((await t.orm.em.fork().getConnection().execute<{ count: string }[]>("select count(*) from webhook_delivery where payload->'groupLabels'->>'alertname' = 'DatabaseDown'"))[0]!.count);
    for (const waitUntil = Date.now() + 20_000; (await countDeliveries()) < 4 && Date.now() < waitUntil; ) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await countDeliveries()).toBeGreaterThanOrEqual(4);
    const alerts = await t.orm.em.fork().getConnection().execute<{ count: string }[]>("select count(*) from alert where labels->>'alertname' = 'DatabaseDown'");
    expect(Number(alerts[0]!.count)).toBe(2);

    const ended = new Date(Date.now() - 1000);
    await amtoolAdd({ alertname: 'DatabaseDown', client: 'northwind', ci: 'nw-db-01', severity: 'critical' }, { summary: 'PostgreSQL on nw-db-01 is down' }, dbDownSince, ended);
    await amtoolAdd({ alertname: 'DatabaseDown', client: 'northwind', ci: 'nw-web-01', severity: 'warning' }, { summary: 'web-01 cannot reach its database' }, webSince, ended);
    incident = await waitForIncident((i) => i.alertname === 'DatabaseDown' && i.state === 'resolved');
    expect(incident).toMatchObject({ resolutionSummary: 'alerts cleared', alertCounts: { firing: 0, resolved: 2 } });

    const all = await t.http.get('/api/v1/incidents?client=northwind').set('Authorization', `Bearer ${staffToken}`);
    expect(all.body.items.filter((i: { alertname?: string; title: string }) => i.title.includes('nw-db-01'))).toHaveLength(1);
  }, 60_000);

  it('groups by the Alertmanager group: another alertname is another incident', async () => {
    await amtoolAdd({ alertname: 'CertificateExpiry', client: 'northwind', service: 'nw-webshop', severity: 'warning' }, { summary: 'TLS certificate of shop.northwind.example expires in 7 days' }, new Date());
    const incident = await waitForIncident((i) => i.alertname === 'CertificateExpiry');
    expect(incident).toMatchObject({ severity: 3, serviceIds: ['nw-webshop'], state: 'new' });
  }, 30_000);
});
