import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitForStatus, writeConfig } from '../support/daemon-process';
import { REPO_ROOT } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// scripts/build.js is plain CommonJS (it runs before anything is compiled).
const buildScript = createRequire(__filename)(path.join(REPO_ROOT, 'scripts/build.js')) as {
  build(root?: string): void;
  isUpToDate(root?: string): boolean;
};

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

describe('npm run build records what it compiled', () => {
  // A one-file project: compiling it takes a second, not the whole daemon's 30.
  const project = mkdtempSync(path.join(tmpdir(), 'incidentd-build-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('says dist/ is stale until built, then compares contents: a changed, added or removed source makes it stale', () => {
    writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.', module: 'commonjs', types: [], skipLibCheck: true }, include: ['src/**/*.ts'] }));
    mkdirSync(path.join(project, 'src'));
    const main = path.join(project, 'src/main.ts');
    writeFileSync(main, 'export const answer: number = 42;\n');
    expect(buildScript.isUpToDate(project)).toBe(false);

    buildScript.build(project);
    expect(buildScript.isUpToDate(project)).toBe(true);

    writeFileSync(main, 'export const answer: number = 43;\n');
    expect(buildScript.isUpToDate(project)).toBe(false);
    // Contents, not times: the same text again is the build's text (a checkout back and forth).
    writeFileSync(main, 'export const answer: number = 42;\n');
    expect(buildScript.isUpToDate(project)).toBe(true);

    writeFileSync(path.join(project, 'src/extra.ts'), 'export const extra = 1;\n');
    expect(buildScript.isUpToDate(project)).toBe(false);
    unlinkSync(path.join(project, 'src/extra.ts'));
    expect(buildScript.isUpToDate(project)).toBe(true);
    writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.', module: 'commonjs', types: [], skipLibCheck: true, strict: true }, include: ['src/**/*.ts'] }));
    expect(buildScript.isUpToDate(project)).toBe(false);
  }, 60_000);

  it('records nothing when the compile fails, so the next start tries again', () => {
    writeFileSync(path.join(project, 'src/main.ts'), 'export const answer: number = "not a number";\n');
    expect(() => buildScript.build(project)).toThrow(/TypeScript build failed/);
    expect(buildScript.isUpToDate(project)).toBe(false);
  }, 60_000);
});

describe('npm start', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    // What `npm ci` (prepare) or an earlier start leaves behind: a build of these sources.
    if (!buildScript.isUpToDate()) buildScript.build();
  }, 180_000);
  afterAll(async () => db?.drop());

  it('starts from the built output without compiling, and SIGTERM to npm stops the daemon cleanly', async () => {
    const port = await freePort();
    const configFile = writeConfig({ server: { host: '127.0.0.1', port } });
    const npm = spawn('npm', ['start'], { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: db.url, INCIDENTD_CONFIG: configFile } });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    try {
      const readyAfterMs = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 30_000);
      expect(output).not.toMatch(/compiling|prestart|tsc -p/);
      // A compile alone takes 25-90 s on this machine.
      expect(readyAfterMs).toBeLessThan(20_000);

      // What a process manager does: SIGTERM to the process it started (npm).
      npm.kill('SIGTERM');
      expect(await exited).toBe(0);
      // npm returned only once the daemon had drained and stopped: nothing listens any more.
      expect(output).toContain('shutdown complete');
      expect(await portOpen(port)).toBe(false);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  }, 90_000);
});
