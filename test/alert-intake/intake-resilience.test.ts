import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { writeConfig } from '../support/daemon-process';
import { testServerUrl } from '../support/global-setup';
import { TcpProxy } from '../support/tcp-proxy';
import { startTestApp, type TestApp } from '../support/test-app';

const pgUrl = new URL(testServerUrl());
const proxy = new TcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
let t: TestApp;
let server: Server;
let base: string;

beforeAll(async () => {
  t = await startTestApp({ databaseProxy: proxy, configFile: writeConfig({ server: { maxConcurrentIntake: 2 } }) });
  server = createServer(t.app.handleRequest).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await t?.close();
  await proxy.stop();
});

const body = alertmanagerPayload('{}:{alertname="DbOutageTest"}', [{ labels: { alertname: 'DbOutageTest', client: 'globex', severity: 'critical' } }]);
const send = () => fetch(`${base}/api/v1/alerts/alertmanager`, { method: 'POST', headers: { Authorization: `Bearer ${AM_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

describe('when the database is away', () => {
  it('answers 503 with Retry-After (so Alertmanager retries), and accepts the retry once it is back', async () => {
    await proxy.cut();
    const refused = await send();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect((await fetch(`${base}/readyz`)).status).toBe(503);

    await proxy.restore();
    const retried = await send();
    expect(retried.status).toBe(202);
    await t.app.services.alertProcessor.drain();
    const rows = await t.orm.em.fork().getConnection().execute<{ count: string }[]>("select count(*) from alert where labels->>'alertname' = 'DbOutageTest'");
    expect(Number(rows[0]!.count)).toBe(1);
    expect(await t.scrapeMetrics()).toMatch(/incidentd_webhook_rejected_total\{reason="unavailable"\} 1/);
  }, 30_000);
});

describe('under overload', () => {
  it('sheds webhooks beyond maxConcurrentIntake with 503 instead of queueing them', async () => {
    // Two webhooks whose bodies are still arriving occupy both slots.
    const held = [0, 1].map(() => {
      const req = request(`${base}/api/v1/alerts/alertmanager`, { method: 'POST', headers: { Authorization: `Bearer ${AM_TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': '100000' } });
      req.on('error', () => {});
      req.write('{');
      return req;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const shed = await send();
    expect(shed.status).toBe(503);
    expect(((await shed.json()) as { error: { message: string } }).error.message).toContain('too many webhooks in progress');
    for (const req of held) req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await send()).status).toBe(202);
    expect(await t.scrapeMetrics()).toMatch(/incidentd_webhook_rejected_total\{reason="overloaded"\} 1/);
  });
});
