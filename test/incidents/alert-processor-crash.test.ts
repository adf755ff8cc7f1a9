import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { freePort, spawnDaemon, waitForStatus, writeConfig, type DaemonProcess } from '../support/daemon-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// After a crash, the alerts the dead daemon had claimed used to wait up to 60 s for their
// lease (issue 14 §1). Claims now belong to a live processor: a killed daemon's claims are
// free as soon as its database session is gone, a hung one's when its 10 s lease runs out.
// Real daemons on one database; a test session holds the alert group's advisory lock so the
// victim is caught with the alert claimed and its batch unfinished.
let db: TestDatabase;
let sql: pg.Client;
const daemons: { proc: DaemonProcess; base: string }[] = [];
const alive = () => daemons.filter((daemon) => daemon.proc.proc.exitCode === null && daemon.proc.proc.signalCode === null);

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Client({ connectionString: db.url });
  // The first daemon migrates the fresh database; the others start on it afterwards.
  await startDaemon();
  await sql.connect();
  await startDaemon();
}, 120_000);
afterAll(async () => {
  for (const daemon of alive()) daemon.proc.proc.kill('SIGKILL');
  await Promise.all(daemons.map((daemon) => daemon.proc.exited));
  await sql?.end();
  await db?.drop();
});

async function startDaemon() {
  const port = await freePort();
  const configFile = writeConfig({ server: { host: '127.0.0.1', port }, logging: { level: 'warn' } });
  const proc = spawnDaemon({ configFile, env: { DATABASE_URL: db.url } });
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/readyz`, 200, 60_000);
  const daemon = { proc, base };
  daemons.push(daemon);
  return daemon;
}

async function waitUntil<T>(what: string, check: () => Promise<T | null | undefined>, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Posts an alert of a new group while its advisory lock is held, and returns the daemon whose processor claimed it (and is stuck in its batch). */
async function claimedAndStuck(alertname: string) {
  const dedupKey = `alertmanager|{}:{alertname="${alertname}"}|globex`;
  await sql.query('select pg_advisory_lock(hashtext($1))', [dedupKey]);
  const res = await fetch(`${alive()[0]!.base}/api/v1/alerts/alertmanager`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${AM_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(alertmanagerPayload(`{}:{alertname="${alertname}"}`, [{ labels: { alertname, client: 'globex', severity: 'critical' } }])),
  });
  expect(res.status).toBe(202);
  // Whichever daemon claimed it (usually the one it was posted to, which is woken at once) is the victim.
  const claim = await waitUntil(
    `${alertname} claimed`,
    async () => (await sql.query("select a.claimed_by, p.pid from alert a join alert_processor p on p.id = split_part(a.claimed_by, '/', 1) where a.labels->>'alertname' = $1", [alertname])).rows[0] as { claimed_by: string; pid: number } | undefined,
    15_000,
  );
  const victim = daemons.find((daemon) => daemon.proc.proc.pid === claim.pid)!;
  expect(victim).toBeDefined();
  return { dedupKey, claimedBy: claim.claimed_by, victim };
}

const incidentOf = async (alertname: string) => (await sql.query('select number from incident where alertname = $1', [alertname])).rows[0] as { number: number } | undefined;

describe('alerts claimed by a daemon that dies', () => {
  it('are processed by another daemon within seconds of a kill -9', async () => {
    const { dedupKey, victim } = await claimedAndStuck('CrashKill');
    victim.proc.proc.kill('SIGKILL');
    await victim.proc.exited;
    const killedAt = Date.now();
    await sql.query('select pg_advisory_unlock(hashtext($1))', [dedupKey]);
    await waitUntil('the incident of CrashKill', () => incidentOf('CrashKill'), 30_000);
    const seconds = (Date.now() - killedAt) / 1000;
    // The survivor polls every second and sees the dead daemon's session gone.
    expect(seconds, `processed ${seconds} s after the kill`).toBeLessThan(5);
  }, 60_000);

  it('are taken over when a hung daemon stops renewing its lease', async () => {
    await startDaemon();
    const { dedupKey, claimedBy, victim } = await claimedAndStuck('CrashHang');
    // Frozen, not dead: its sockets and database sessions stay open; only the lease runs out.
    victim.proc.proc.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const takenBy = await waitUntil(
      'another processor claiming CrashHang',
      async () => {
        const row = (await sql.query("select claimed_by from alert where labels->>'alertname' = 'CrashHang'")).rows[0] as { claimed_by: string | null };
        return row.claimed_by && row.claimed_by !== claimedBy ? row.claimed_by : null;
      },
      30_000,
    );
    const seconds = (Date.now() - stoppedAt) / 1000;
    expect(seconds, `taken over ${seconds} s after the daemon froze`).toBeLessThan(15);
    // Claims name `<processor>/<lane>`; the new owner is one of the daemons still running.
    const takerPid = (await sql.query("select pid from alert_processor where id = split_part($1, '/', 1)", [takenBy])).rows[0]?.pid;
    expect(alive().map((daemon) => daemon.proc.proc.pid).filter((pid) => pid !== victim.proc.proc.pid)).toContain(takerPid);
    // The frozen daemon's transaction (waiting for the group's lock) ends with its process.
    victim.proc.proc.kill('SIGKILL');
    await victim.proc.exited;
    await sql.query('select pg_advisory_unlock(hashtext($1))', [dedupKey]);
    await waitUntil('the incident of CrashHang', () => incidentOf('CrashHang'), 30_000);
  }, 120_000);
});
