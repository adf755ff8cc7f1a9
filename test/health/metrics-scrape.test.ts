import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { testServerUrl } from '../support/global-setup';
import { TcpProxy } from '../support/tcp-proxy';
import { startTestApp, type TestApp } from '../support/test-app';

// The metrics behind the shipped alerting rules (contrib/prometheus/incidentd-rules.yml):
// database availability, the alert processor's backlog, overdue timers; and a scrape that
// keeps working while the database is away.
const pgUrl = new URL(testServerUrl());
const proxy = new TcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ databaseProxy: proxy });
});
afterAll(async () => {
  await t?.close();
  await proxy.stop();
});

/** What Prometheus gets from the metrics listener. */
async function scrape(): Promise<string> {
  return t.scrapeMetrics();
}

/** The value of an unlabelled metric in a scrape, or undefined when it is not there. */
function value(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('GET /metrics', () => {
  it('names process and Node.js metrics the standard way and prefixes incidentd’s own', async () => {
    const text = await scrape();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? \\S+$`, 'm'));
    }
    expect(text).not.toMatch(/^incidentd_(process|nodejs)_/m);
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!);
    expect(names.filter((name) => !/^(process_|nodejs_|incidentd_)/.test(name))).toEqual([]);
  });

  it('starts the series of known label values at 0, so rate() and increase() see the first event', async () => {
    const text = await scrape();
    expect(text).toMatch(/^incidentd_webhook_rejected_total\{reason="unauthorized"\} 0$/m);
    expect(text).toMatch(/^incidentd_notifications_total\{channel="webhook",result="dead"\} 0$/m);
    expect(text).toMatch(/^incidentd_timers_fired_total\{kind="escalation\.step",result="ok"\} 0$/m);
    expect(text).toMatch(/^incidentd_escalation_lateness_seconds_count\{kind="sla\.breach"\} 0$/m);
  });

  it('keeps answering while the database is away: incidentd_database_up 0, process metrics still there', async () => {
    expect(value(await scrape(), 'incidentd_database_up')).toBe(1);
    await proxy.cut();
    try {
      const text = await scrape();
      expect(value(text, 'incidentd_database_up')).toBe(0);
      expect(text).toMatch(/^process_cpu_seconds_total \S+$/m);
      // Gauges read from the database are left out (unknown), not reported as 0.
      expect(value(text, 'incidentd_timers_pending')).toBeUndefined();
      expect(text).toMatch(/^incidentd_metric_collect_failures_total\{metric="incidentd_timers_pending"\} [1-9]/m);
    } finally {
      await proxy.restore();
    }
    const back = await scrape();
    expect(value(back, 'incidentd_database_up')).toBe(1);
    expect(value(back, 'incidentd_timers_pending')).toBeTypeOf('number');
  }, 30_000);

  it("reports the alert processor's backlog and how long its oldest alert waits", async () => {
    const processor = t.app.services.alertProcessor;
    await processor.stop(); // intake wakes it after each commit; here the alert must wait
    const body = alertmanagerPayload('{}:{alertname="BacklogTest"}', [{ labels: { alertname: 'BacklogTest', client: 'globex', severity: 'warning' } }]);
    const stored = await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(body);
    expect(stored.status).toBe(202);
    t.clock.advance(90_000);
    let text = await scrape();
    expect(value(text, 'incidentd_alerts_unprocessed')).toBe(1);
    expect(value(text, 'incidentd_alerts_unprocessed_oldest_seconds')).toBe(90);

    await processor.drain();
    text = await scrape();
    expect(value(text, 'incidentd_alerts_unprocessed')).toBe(0);
    expect(value(text, 'incidentd_alerts_unprocessed_oldest_seconds')).toBe(0);
  });

  it('reports how far past due the most overdue timer is, until it fires', async () => {
    const token = await t.tokenFor('service_desk');
    // A Sev1 pages its first escalation step at once (a timer due now), which nothing fires yet.
    const created = await t.http.post('/api/v1/incidents').set('Authorization', `Bearer ${token}`).send({ title: 'Payments down', client: 'northwind', severity: 1, source: 'phone', reportedBy: 'James Whitfield', impact: 'no card payments' });
    expect(created.status).toBe(201);
    t.clock.advance(75_000);
    expect(value(await scrape(), 'incidentd_timers_overdue_seconds')).toBeGreaterThanOrEqual(75);

    await t.app.services.timers.runDue();
    expect(value(await scrape(), 'incidentd_timers_overdue_seconds')).toBe(0);
  });
});
