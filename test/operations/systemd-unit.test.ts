import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitForStatus, writeConfig } from '../support/daemon-process';
import { REPO_ROOT } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The systemd unit shipped in docs/: checked by systemd itself, and its ExecStart run the way
// systemd runs it (KillMode=mixed: KillSignal to the main process only).
const unitFile = path.join(REPO_ROOT, 'docs/incidentd.service');
const unit = readFileSync(unitFile, 'utf8');
const setting = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

describe('docs/incidentd.service', () => {
  it.runIf(existsSync('/usr/bin/systemd-analyze'))('is a unit systemd accepts without a warning', async () => {
    // verify wants the file name it will be installed under.
    const copy = path.join(mkdtempSync(path.join(tmpdir(), 'incidentd-unit-')), 'incidentd.service');
    writeFileSync(copy, unit);
    const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', copy]);
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  it('signals the daemon alone and leaves it time to stop cleanly on SIGTERM', async () => {
    expect(setting('KillMode')).toBe('mixed');
    expect(setting('KillSignal') ?? 'SIGTERM').toBe('SIGTERM');
    // The daemon's own deadline is 10 s; systemd must not SIGKILL it before.
    expect(Number(setting('TimeoutStopSec'))).toBeGreaterThan(10);

    const port = await freePort();
    const configFile = writeConfig({ server: { host: '127.0.0.1', port }, logging: { level: 'info' } });
    const [command, ...args] = setting('ExecStart')!.split(/\s+/);
    const environment = Object.fromEntries([...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)].map((match) => [match[1], match[2]]));
    const main = spawn(command!, args, { cwd: REPO_ROOT, env: { ...process.env, ...environment, DATABASE_URL: db.url, INCIDENTD_CONFIG: configFile } });
    let output = '';
    main.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    main.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => main.on('exit', (code) => resolve(code)));
    try {
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 30_000);
      const started = Date.now();
      main.kill(setting('KillSignal') as NodeJS.Signals);
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(Number(setting('TimeoutStopSec')) * 1000);
      expect(output).toContain('shutdown complete');
    } finally {
      if (main.exitCode === null) main.kill('SIGKILL');
    }
  }, 60_000);
});
