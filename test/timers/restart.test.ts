import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, freePort, spawnDaemon, writeConfig, type DaemonProcess } from '../support/daemon-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The real daemon, killed with SIGKILL in the middle of an escalation policy: nothing may
// be lost and nothing repeated.
let db: TestDatabase;
let client: pg.Client;
let configFile: string;
let base: string;
let daemon: DaemonProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  configFile = writeConfig({
    server: { host: '127.0.0.1', port },
    escalationPolicies: [
      { id: 'fast', steps: [{ after: '0s', notify: [{ user: 'first@msp.example' }] }, { after: '3s', notify: [{ user: 'second@msp.example' }] }, { after: '3s', notify: [{ user: 'third@msp.example' }] }] },
    ],
  });
});
afterAll(async () => {
  if (daemon && daemon.proc.exitCode === null) daemon.proc.kill('SIGKILL');
  await client?.end();
  await db?.drop();
});

async function start(): Promise<DaemonProcess> {
  const started = spawnDaemon({ configFile, env: { DATABASE_URL: db.url } });
  await started.waitFor(/sign in at/);
  return started;
}

async function waitUntil(sql: string, expected: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = Number((await client.query(sql)).rows[0].count);
    if (count >= expected) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${sql} = ${count}, wanted ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('escalation across a kill -9', () => {
  it('fires the steps that fell due while the daemon was down once it is back, and none twice', async () => {
    daemon = await start();
    const token = await adminToken({ DATABASE_URL: db.url, INCIDENTD_CONFIG: configFile });
    const created = await fetch(`${base}/api/v1/incidents`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Payments down', client: 'northwind', severity: 1, source: 'phone' }),
    });
    expect(created.status).toBe(201);
    await waitUntil("select count(*) from timer where kind = 'escalation.step' and status = 'fired'", 1);

    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    // Steps 2 and 3 fall due while nothing runs.
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    expect(Number((await client.query("select count(*) from timer where kind = 'escalation.step' and status = 'fired'")).rows[0].count)).toBe(1);

    daemon = await start();
    await waitUntil("select count(*) from timer where kind = 'escalation.step' and status = 'fired'", 3);
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const steps = await client.query("select payload->>'step' as step, fired_by from timer where kind = 'escalation.step' and status = 'fired' order by due_at");
    expect(steps.rows.map((row) => row.step)).toEqual(['0', '1', '2']);
    expect(new Set(steps.rows.map((row) => row.fired_by)).size).toBe(2);
    const pages = await client.query("select recipient from notification where kind = 'escalation.page' order by id");
    expect(pages.rows.map((row) => row.recipient)).toEqual(['first@msp.example', 'second@msp.example', 'third@msp.example']);
    const timeline = await client.query("select message from incident_event where type = 'escalation' order by id");
    expect(timeline.rows.map((row) => row.message.split(':')[0])).toEqual(['step 1 of fast', 'step 2 of fast', 'step 3 of fast']);
    daemon.proc.kill('SIGTERM');
    await daemon.exited;
  }, 60_000);
});
