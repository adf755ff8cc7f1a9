import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG, REPO_ROOT } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const run = promisify(execFile);
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

/** Runs `incidentd <args>` exactly as `npx incidentd` would, against the test database. */
async function incidentd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(REPO_ROOT, 'bin/incidentd.js'), ...args], {
      env: { ...process.env, DATABASE_URL: db.url, INCIDENTD_CONFIG: EXAMPLE_CONFIG },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function activeTokenOwner(token: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const hash = createHash('sha256').update(token).digest('hex');
    const rows = await client.query('select u.email from api_token t join app_user u on u.id = t.user_id where t.token_hash = $1 and t.revoked_at is null', [hash]);
    return rows.rows[0]?.email ?? null;
  } finally {
    await client.end();
  }
}

describe('incidentd check-config', () => {
  it('exits 0 and summarises a valid file', async () => {
    const result = await incidentd(['check-config', EXAMPLE_CONFIG]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/OK \(3 clients, \d+ services, \d+ configuration items/);
  });

  it('prints every problem with file, line, key path and exits 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'incidentd-cli-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'clients:',
        '  - id: acme',
        '    name: Acme',
        '    timezone: Mars/Olympus_Mons',
        '    accountManager: am@msp.example',
        '    contacts: []',
        '    sla:',
        '      sev1: { respond: soon, resolve: 4h }',
        '      sev2: { respond: 30m, resolve: 8h }',
        '      sev3: { respond: 4h, resolve: 3d }',
        '      sev4: { respond: 1d, resolve: 10d }',
        'services:',
        '  - id: web',
        '    client: nobody',
        '    name: Web',
        '',
      ].join('\n'),
    );
    const result = await incidentd(['check-config', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}:4:`);
    expect(result.stderr).toMatch(/clients\[0\]\.timezone: /);
    expect(result.stderr).toMatch(new RegExp(`${file}:8:\\d+: clients\\[0\\]\\.sla\\.sev1\\.respond: expected a duration`));
    expect(result.stderr).toMatch(/services\[0\]\.client: .*nobody/);
    expect(result.stderr).toMatch(/\d+ problem\(s\) found/);
  });

  it('reports a missing file clearly', async () => {
    const result = await incidentd(['check-config', '/nonexistent/incidentd.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ENOENT|no such file/);
  });
});

describe('incidentd user and token commands', () => {
  it('adds a user and prints one JSON object with a one-time password and a token that works', async () => {
    const result = await incidentd(['user', 'add', '--name', 'Alice Example', '--email', 'alice@msp.example', '--role', 'incident_manager', '--json']);
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout);
    expect(Object.keys(created)).toEqual(expect.arrayContaining(['id', 'name', 'email', 'role', 'password', 'token']));
    expect(created).toMatchObject({ name: 'Alice Example', email: 'alice@msp.example', role: 'incident_manager' });
    expect(created.password).toHaveLength(20);
    expect(created.token).toMatch(/^idt_/);
    // Stored as a hash only, active, and of this user.
    expect(await activeTokenOwner(created.token)).toBe('alice@msp.example');
  });

  it('binds a client contact to a client and refuses unknown roles', async () => {
    const ok = await incidentd(['user', 'add', '--name', 'Carol', '--email', 'carol@northwind.example', '--role', 'client_contact', '--client', 'northwind', '--json']);
    expect(ok.code).toBe(0);
    const bad = await incidentd(['user', 'add', '--name', 'Eve', '--email', 'eve@msp.example', '--role', 'superuser']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown role "superuser"');
    const duplicate = await incidentd(['user', 'add', '--name', 'Alice 2', '--email', 'ALICE@msp.example', '--role', 'tier2']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('already exists');
  });

  it('lists, rotates tokens and disables', async () => {
    const list = await incidentd(['user', 'list', '--json']);
    const users = JSON.parse(list.stdout);
    expect(users.map((u: { email: string }) => u.email)).toEqual(expect.arrayContaining(['alice@msp.example', 'carol@northwind.example']));
    expect(users.find((u: { email: string }) => u.email === 'carol@northwind.example').clientId).toBe('northwind');

    const before = (await run(process.execPath, [path.join(REPO_ROOT, 'bin/incidentd.js'), 'token', 'rotate', 'alice@msp.example', '--json'], { env: { ...process.env, DATABASE_URL: db.url, INCIDENTD_CONFIG: EXAMPLE_CONFIG } })).stdout;
    const rotated = await incidentd(['token', 'rotate', 'alice@msp.example', '--json']);
    expect(rotated.code).toBe(0);
    const newToken = JSON.parse(rotated.stdout).token;
    expect(await activeTokenOwner(newToken)).toBe('alice@msp.example');
    // The previous token stopped working.
    expect(await activeTokenOwner(JSON.parse(before).token)).toBeNull();

    const reset = await incidentd(['user', 'reset-password', 'carol@northwind.example', '--json']);
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout).password).toHaveLength(20);

    const disabled = await incidentd(['user', 'disable', 'alice@msp.example']);
    expect(disabled.code).toBe(0);
    const after = JSON.parse((await incidentd(['user', 'list', '--json'])).stdout);
    expect(after.find((u: { email: string }) => u.email === 'alice@msp.example').disabled).toBe(true);
  });
});
