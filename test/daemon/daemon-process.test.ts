import { request } from 'node:http';
import pg from 'pg';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, freePort, spawnDaemon, waitForStatus, writeConfig, type DaemonProcess } from '../support/daemon-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let db: TestDatabase;
let port: number;
let configFile: string;
let daemon: DaemonProcess;
let base: string;
let token: string;

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  configFile = writeConfig({ server: { host: '127.0.0.1', port }, logging: { level: 'info' } });
  daemon = spawnDaemon({ configFile, env: { DATABASE_URL: db.url } });
  base = `http://127.0.0.1:${port}`;
  await daemon.waitFor(/sign in at/);
  token = await adminToken({ DATABASE_URL: db.url, INCIDENTD_CONFIG: configFile });
});
afterAll(async () => {
  if (daemon.proc.exitCode === null) daemon.proc.kill('SIGKILL');
  await db?.drop();
});

describe('the daemon process', () => {
  it('prints where it listens, which database it uses, how to sign in and the first admin credentials', async () => {
    const out = daemon.output();
    expect(out).toContain(`incidentd listening on ${base}`);
    expect(out).toMatch(new RegExp(`database: PostgreSQL at 127\\.0\\.0\\.1:\\d+/${db.name}`));
    expect(out).toContain(`sign in at ${base}/login`);
    expect(out).toMatch(/email: +admin@incidentd\.local/);
    expect(out).toMatch(/password: +\S{20}/);
    // No API token in start-up output: it would stay valid wherever the output is collected.
    expect(out).not.toMatch(/idt_/);
    expect(await waitForStatus(`${base}/readyz`)).toBeLessThan(15_000);
  });

  it('logs JSON lines with request ids and never the credentials it was sent', async () => {
    const res = await fetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': 'trace-me-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-me-123');
    await daemon.waitFor(/"id":"trace-me-123"/);
    const logLine = daemon.output().split('\n').find((line) => line.includes('"id":"trace-me-123"'))!;
    expect(JSON.parse(logLine)).toMatchObject({ level: 30, req: { id: 'trace-me-123', url: '/api/v1/me' }, res: { statusCode: 200 } });
    expect(logLine).not.toContain(token);
  });

  it('exposes Prometheus metrics with HTTP durations by route on its metrics listener', async () => {
    const [, metricsUrl] = await daemon.waitFor(/metrics for Prometheus at (\S+)/);
    const text = await (await fetch(metricsUrl!)).text();
    expect(text).toMatch(/incidentd_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/me",status="200"\} \d+/);
    // Process metrics under their standard names (issue 21 §7), the daemon's own with its prefix.
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).not.toContain('incidentd_process_');
  });

  it('reloads the configuration on SIGHUP, and keeps the old one when the new file is invalid', async () => {
    const original = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, original.replace(/respond: 15m/, 'respond: fifteen minutes'));
    daemon.proc.kill('SIGHUP');
    await daemon.waitFor(/configuration reload refused/);
    expect(daemon.output()).toMatch(/expected a duration/);
    expect(daemon.proc.exitCode).toBeNull();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    writeFileSync(configFile, original.replace(/name: Northwind[^\n]*/, 'name: Northwind Renamed'));
    daemon.proc.kill('SIGHUP');
    await daemon.waitFor(/"msg":"configuration reloaded"/);
    const client = (await (await fetch(`${base}/api/v1/clients/northwind`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { name: string };
    expect(client.name).toBe('Northwind Renamed');
  });

  it('on SIGTERM finishes the in-flight webhook (stored), refuses new connections and exits 0 within 10 s', async () => {
    // A webhook whose body is still arriving is in flight until we finish sending it.
    const body = JSON.stringify(alertmanagerPayload('{}:{alertname="DrainTest"}', [{ labels: { alertname: 'DrainTest', client: 'globex', severity: 'warning' } }]));
    const [head, tail] = [body.slice(0, 100), body.slice(100)];
    let refusedDuringDrain = false;
    const inFlight = new Promise<{ status: number }>((resolve, reject) => {
      const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${AM_TOKEN}`, 'Content-Length': String(Buffer.byteLength(body)) };
      const req = request(`${base}/api/v1/alerts/alertmanager`, { method: 'POST', headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      req.on('error', reject);
      req.write(head);
      setTimeout(() => {
        daemon.proc.kill('SIGTERM');
        setTimeout(async () => {
          refusedDuringDrain = await fetch(`${base}/healthz`).then(
            () => false,
            () => true,
          );
          req.end(tail);
        }, 300);
      }, 200);
    });
    const started = Date.now();
    const response = await inFlight;
    expect(response.status).toBe(202);
    expect(refusedDuringDrain).toBe(true);
    const exit = await daemon.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(daemon.output()).toContain('shutdown complete');
    // The webhook answered during the drain really was committed.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const rows = await client.query("select count(*) from alert where labels->>'alertname' = 'DrainTest'");
    await client.end();
    expect(Number(rows.rows[0].count)).toBe(1);
  });
});
