import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitForStatus } from '../support/daemon-process';
import { REPO_ROOT } from '../support/test-app';

// The README's quick start as containers, CI and many servers run it: as root, in a private
// (mode 700) directory like /root/incidentd, with the embedded PostgreSQL, which runs as the
// `postgres` user and cannot enter that directory. Only root can run this test; CI runs as root.
const asRoot = process.getuid?.() === 0;
const buildScript = createRequire(__filename)(path.join(REPO_ROOT, 'scripts/build.js')) as { build(): void; isUpToDate(): boolean };

const home = mkdtempSync(path.join(tmpdir(), 'incidentd-root-home-'));
const project = path.join(home, 'incidentd');
let clusterDir: string | undefined;

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

/** `npm start` in the project; resolves once it listens, with a way to stop it like a process manager. */
async function npmStart(httpPort: number) {
  const npm = spawn('npm', ['start'], { cwd: project, env: { ...process.env, DATABASE_URL: '', INCIDENTD_CONFIG: '', PORT: String(httpPort) } });
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  await Promise.race([
    waitForStatus(`http://127.0.0.1:${httpPort}/readyz`, 200, 120_000),
    exited.then((code) => Promise.reject(new Error(`npm start exited (${code}) before it was ready:\n${output}`))),
  ]);
  return {
    output: () => output,
    async sigterm() {
      npm.kill('SIGTERM');
      return exited;
    },
    kill: () => npm.exitCode === null && npm.kill('SIGKILL'),
  };
}

describe.runIf(asRoot)('quick start as root from a mode-700 directory', () => {
  beforeAll(() => {
    if (!buildScript.isUpToDate()) buildScript.build();
    chmodSync(home, 0o700);
    mkdirSync(project, { mode: 0o700 });
    // The project as `npm ci` leaves it: sources, the build, and node_modules (hard links:
    // the same files as this checkout's, but reached through the private directory).
    for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'src', 'dist', 'bin', 'views', 'public', 'config']) {
      cpSync(path.join(REPO_ROOT, entry), path.join(project, entry), { recursive: true });
    }
    execFileSync('cp', ['-al', path.join(REPO_ROOT, 'node_modules'), path.join(project, 'node_modules')]);
  }, 120_000);
  afterAll(() => {
    if (clusterDir?.startsWith('/var/lib/incidentd/postgres-')) rmSync(clusterDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('starts with npm start, serves /readyz and the status page, stops with the database on SIGTERM, and keeps its data', async () => {
    const httpPort = await freePort();
    const dbPort = await freePort();
    // Only the embedded server's port differs from the example configuration (tests run side by side).
    const configFile = path.join(project, 'config/incidentd.yaml');
    const config = YAML.parseDocument(readFileSync(configFile, 'utf8'));
    config.setIn(['database', 'embedded', 'port'], dbPort);
    writeFileSync(configFile, config.toString());

    const first = await npmStart(httpPort);
    try {
      const base = `http://127.0.0.1:${httpPort}`;
      // It says where the data went, and records it for the next start.
      const location = readFileSync(path.join(project, 'data/postgres-location'), 'utf8').trim();
      clusterDir = location;
      expect(location).toMatch(/^\/var\/lib\/incidentd\/postgres-[0-9a-f]{12}$/);
      expect(first.output()).toContain(`database: embedded PostgreSQL at 127.0.0.1:${dbPort}, data in ${location} (running as root: the postgres user cannot reach ./data`);
      expect(first.output()).toContain('First start: created the administrator account');

      const page = await fetch(`${base}/status/northwind`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const stylesheet = /<link[^>]+href="([^"]+\.css)"/.exec(html)?.[1];
      expect(stylesheet).toBeDefined();
      expect((await fetch(new URL(stylesheet!, base))).status).toBe(200);

      expect(await first.sigterm()).toBe(0);
      expect(first.output()).toContain('shutdown complete');
      // The database stopped with the daemon.
      expect(await portOpen(dbPort)).toBe(false);
      expect(existsSync(path.join(location, 'postmaster.pid'))).toBe(false);
    } finally {
      first.kill();
    }

    // A restart finds the same data: no new administrator.
    const second = await npmStart(httpPort);
    try {
      expect(second.output()).not.toContain('First start');
      expect(await second.sigterm()).toBe(0);
      expect(await portOpen(dbPort)).toBe(false);
    } finally {
      second.kill();
    }
  }, 300_000);
});
