import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { freePort, spawnDaemon, writeConfig, type DaemonProcess } from '../support/daemon-process';
import { startPrometheus, type PrometheusServer, type Sample } from '../support/prometheus';
import { REPO_ROOT } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// A real Prometheus scrapes the real daemon (`node dist/src/main.js`), loads the shipped
// alerting rules, and answers every query of the shipped Grafana dashboard.
const DASHBOARD = path.join(REPO_ROOT, 'contrib/grafana/incidentd.json');
const RULES = path.join(REPO_ROOT, 'contrib/prometheus/incidentd-rules.yml');
const JOB = 'incidentd';

/**
 * Where Prometheus scrapes the daemon: its metrics listener (server.metricsListen, set in the
 * daemon's configuration below).
 */
function scrapeTarget(metricsPort: number) {
  return { address: `127.0.0.1:${metricsPort}`, metricsPath: '/metrics' };
}

/** Grafana's variables, as the dashboard would fill them in for this daemon. */
function withVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$job', JOB)
    .replaceAll('$instance', '.*');
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };
const queries = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]).flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));

let db: TestDatabase;
let daemon: DaemonProcess;
let base: string;
let prometheus: PrometheusServer;
let target: ReturnType<typeof scrapeTarget>;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  const metricsPort = await freePort();
  // Nobody listens there: the webhook channel's notifications fail and are given up (dead letters).
  const deadWebhookPort = await freePort();
  const configFile = writeConfig({
    server: { host: '127.0.0.1', port, metricsListen: `127.0.0.1:${metricsPort}` },
    notifications: { webhooks: [{ name: 'noc', url: `http://127.0.0.1:${deadWebhookPort}/hook` }], giveUpAfter: '1s' },
  });
  // Northwind's Sev1 response target in 2 s, so an SLA breach happens during the test.
  const document = YAML.parseDocument(readFileSync(configFile, 'utf8'));
  const clients = document.get('clients') as YAML.YAMLSeq<YAML.YAMLMap>;
  const northwind = clients.items.find((client) => client.get('id') === 'northwind')!;
  northwind.setIn(['sla', 'sev1', 'respond'], '2s');
  writeFileSync(configFile, document.toString());

  daemon = spawnDaemon({ configFile, env: { DATABASE_URL: db.url } });
  base = `http://127.0.0.1:${port}`;
  await daemon.waitFor(/sign in at/);
  target = scrapeTarget(metricsPort);
  prometheus = await startPrometheus({ job: JOB, target, ruleFiles: [RULES] });
  await waitFor('Prometheus scrapes the daemon', async () => (await prometheus.query(`up{job="${JOB}"} == 1`)).length === 1);
}, 90_000);

afterAll(async () => {
  await prometheus?.stop();
  if (daemon && daemon.proc.exitCode === null) {
    daemon.proc.kill('SIGTERM');
    await Promise.race([daemon.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (daemon.proc.exitCode === null) daemon.proc.kill('SIGKILL');
  }
  await db?.drop();
});

/** Polls `check` until it holds, at most `timeoutMs`; the message says what was awaited. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, describeFailure?: () => Promise<string>): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${describeFailure ? `\n${await describeFailure()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** At least one series with a number (a quantile of a kind of timer that did not fire in the window is NaN, as in Grafana). */
const hasData = (samples: Sample[]) => samples.some((sample) => Number.isFinite(Number(sample.value[1])));

describe('the Grafana dashboard against a real Prometheus scraping the daemon', () => {
  it('every query of every panel returns data once the daemon has worked', async () => {
    expect(queries.length).toBeGreaterThanOrEqual(20);
    // Work that every panel shows: an alert stored (intake, processing, an incident, an
    // escalation timer, pages in the outbox, a dead webhook, an SLA breach) and a rejected webhook.
    const accepted = await fetch(`${base}/api/v1/alerts/alertmanager`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${AM_TOKEN}` },
      body: JSON.stringify(alertmanagerPayload('{}:{alertname="ShopDown"}', [{ labels: { alertname: 'ShopDown', client: 'northwind', service: 'nw-webshop', severity: 'critical' }, startsAt: new Date().toISOString() }])),
    });
    expect(accepted.status).toBe(202);
    const rejected = await fetch(`${base}/api/v1/alerts/alertmanager`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer wrong' }, body: '{}' });
    expect(rejected.status).toBe(401);

    const results = new Map<string, Sample[]>();
    const empty = () => queries.filter((query) => !hasData(results.get(query.expr) ?? []));
    await waitFor(
      'every dashboard query returns data',
      async () => {
        for (const query of empty()) results.set(query.expr, await prometheus.query(withVariables(query.expr)));
        return empty().length === 0;
      },
      60_000,
      async () => `queries without data:\n${empty().map((query) => `  [${query.panel}] ${withVariables(query.expr)} -> ${JSON.stringify(results.get(query.expr))}`).join('\n')}`,
    );
    // The work really shows: a breach of Northwind's response target, a dead webhook notification.
    const breaches = await prometheus.query(`incidentd_sla_breaches_total{job="${JOB}"}`);
    expect(breaches.map((sample) => sample.metric)).toContainEqual(expect.objectContaining({ client: 'northwind', severity: '1', kind: 'response' }));
    expect(await prometheus.query(`incidentd_notification_outbox{job="${JOB}", channel="webhook", status="dead"} > 0`)).toHaveLength(1);
  }, 90_000);

  it("the dashboard's variables find the daemon", async () => {
    for (const variable of dashboard.templating.list.filter((candidate) => candidate.definition)) {
      const match = /^label_values\((.+), (\w+)\)$/.exec(variable.definition!);
      expect(match, variable.name).not.toBeNull();
      const [, selector, label] = match!;
      const series = await prometheus.api<Record<string, string>[]>(`series?match[]=${encodeURIComponent(withVariables(selector!))}`);
      expect(series.map((labels) => labels[label!]), variable.name).toContain(label === 'job' ? JOB : target.address);
    }
  });

  it('process and Node.js metrics carry their standard names; incidentd’s own carry its prefix', async () => {
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(await prometheus.query(`${name}{job="${JOB}"}`), name).not.toHaveLength(0);
    }
    const names = await prometheus.api<string[]>(`label/__name__/values?match[]=${encodeURIComponent(`{job="${JOB}"}`)}`);
    // Besides the daemon's own: Prometheus' series about the scrape and the alerting rules.
    const own = names.filter((name) => !/^(process_|nodejs_|up$|scrape_|ALERTS)/.test(name));
    expect(own.length).toBeGreaterThan(10);
    expect(own.filter((name) => !name.startsWith('incidentd_'))).toEqual([]);
    expect(names.filter((name) => /^incidentd_(process|nodejs)_/.test(name))).toEqual([]);
  });

  it('loads the shipped alerting rules and evaluates them against the daemon without errors', async () => {
    type Rule = { name: string; health: string; lastError?: string; state?: string; evaluationTime: number; lastEvaluation: string };
    let rules: Rule[] = [];
    await waitFor('every rule has been evaluated', async () => {
      const data = await prometheus.api<{ groups: { rules: Rule[] }[] }>('rules?type=alert');
      rules = data.groups.flatMap((group) => group.rules);
      return rules.length > 0 && rules.every((rule) => !rule.lastEvaluation.startsWith('0001-'));
    });
    expect(rules.map((rule) => rule.name).sort()).toEqual(
      ['IncidentdAlertBacklogGrowing', 'IncidentdAlertsWaiting', 'IncidentdDatabaseUnavailable', 'IncidentdDeadLetters', 'IncidentdDown', 'IncidentdTimersLate', 'IncidentdTimersOverdue'].sort(),
    );
    expect(rules.filter((rule) => rule.health !== 'ok')).toEqual([]);
    // The dead webhook notification of the first test is what IncidentdDeadLetters is for.
    await waitFor('IncidentdDeadLetters is pending or firing', async () => {
      const { alerts } = await prometheus.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('alerts');
      return alerts.some((alert) => alert.labels.alertname === 'IncidentdDeadLetters' && alert.labels.channel === 'webhook');
    });
    const { alerts } = await prometheus.api<{ alerts: { labels: Record<string, string> }[] }>('alerts');
    expect(alerts.map((alert) => alert.labels.alertname)).not.toContain('IncidentdDatabaseUnavailable');
    expect(alerts.map((alert) => alert.labels.alertname)).not.toContain('IncidentdDown');
  }, 60_000);
});
