import { request } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnDaemon, waitForStatus, writeConfig, type DaemonProcess } from '../support/daemon-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let db: TestDatabase;
let port: number;
let configFile: string;
let daemon: DaemonProcess;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  configFile = writeConfig({ server: { host: '127.0.0.1', port }, logging: { level: 'info' } });
  daemon = spawnDaemon({ configFile, env: { DATABASE_URL: db.url } });
  base = `http://127.0.0.1:${port}`;
  await daemon.waitFor(/sign in at/);
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
    expect(await waitForStatus(`${base}/readyz`)).toBeLessThan(15_000);
  });

  it('logs JSON lines with request ids and never the credentials it was sent', async () => {
    const token = /API token: (idt_\S+)/.exec(daemon.output())![1]!;
    const res = await fetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': 'trace-me-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-me-123');
    await daemon.waitFor(/"id":"trace-me-123"/);
    const logLine = daemon.output().split('\n').find((line) => line.includes('"id":"trace-me-123"'))!;
    expect(JSON.parse(logLine)).toMatchObject({ level: 30, req: { id: 'trace-me-123', url: '/api/v1/me' }, res: { statusCode: 200 } });
    expect(logLine).not.toContain(token);
  });

  it('exposes Prometheus metrics with HTTP durations by route', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/incidentd_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/me",status="200"\} \d+/);
    expect(text).toContain('incidentd_process_cpu_seconds_total');
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
    const token = /API token: (idt_\S+)/.exec(daemon.output())![1]!;
    const client = (await (await fetch(`${base}/api/v1/clients/northwind`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { name: string };
    expect(client.name).toBe('Northwind Renamed');
  });

  it('on SIGTERM finishes the in-flight request, refuses new work and exits 0 within 10 s', async () => {
    // A request whose body is still arriving is in flight until we finish sending it.
    const [head, tail] = ['email=a%40b.example&', 'password=xxxxx'];
    const inFlight = new Promise<{ status: number }>((resolve, reject) => {
      const headers = { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(head.length + tail.length) };
      const req = request(`${base}/login`, { method: 'POST', headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      req.on('error', reject);
      req.write(head);
      setTimeout(() => {
        daemon.proc.kill('SIGTERM');
        setTimeout(() => req.end(tail), 500);
      }, 200);
    });
    const started = Date.now();
    const response = await inFlight;
    // The request was answered (403: the form had no CSRF token) rather than cut off.
    expect(response.status).toBe(403);
    const exit = await daemon.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(daemon.output()).toContain('shutdown complete');
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
