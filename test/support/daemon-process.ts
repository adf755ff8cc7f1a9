import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { EXAMPLE_CONFIG, REPO_ROOT } from './test-app';

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Writes a copy of the example configuration with the given top-level sections replaced. A
 * replaced `server` section gets a metrics listener on a free port unless it names one, so
 * daemons of parallel tests do not compete for the default port.
 */
export function writeConfig(overrides: Record<string, unknown>, dir = mkdtempSync(path.join(tmpdir(), 'incidentd-'))): string {
  const document = YAML.parseDocument(readFileSync(EXAMPLE_CONFIG, 'utf8'));
  for (const [key, value] of Object.entries(overrides)) {
    document.set(key, key === 'server' && value && typeof value === 'object' && !('metricsListen' in value) ? { ...value, metricsListen: '127.0.0.1:0' } : value);
  }
  const file = path.join(dir, 'incidentd.yaml');
  writeFileSync(file, document.toString());
  return file;
}

export interface DaemonProcess {
  proc: ChildProcessWithoutNullStreams;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr, waiting for it if needed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the built daemon (`node dist/src/main.js`, what `npm start` runs) as a child process. */
export function spawnDaemon(options: { configFile: string; env?: NodeJS.ProcessEnv; cwd?: string; args?: string[]; ownProcessGroup?: boolean }): DaemonProcess {
  const proc = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/src/main.js'), ...(options.args ?? [])], {
    cwd: options.cwd ?? REPO_ROOT,
    // The example configuration's metrics listener on a free port (see writeConfig).
    env: { ...process.env, METRICS_LISTEN: '127.0.0.1:0', INCIDENTD_CONFIG: options.configFile, ...options.env },
    // Its own process group, like a program started in a terminal: Ctrl-C signals the whole group.
    detached: options.ownProcessGroup ?? false,
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const waiter of waiters) waiter();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.match(pattern);
          if (match) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${text}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(() => {
          if (waiters.has(check)) {
            check();
            if (waiters.has(check)) {
              waiters.delete(check);
              clearTimeout(timer);
              reject(new Error(`daemon exited before printing ${pattern}; output:\n${text}`));
            }
          }
        });
        check();
      });
    },
  };
}

/** Polls `url` until it answers `status` (the daemon may still be migrating). */
export async function waitForStatus(url: string, status = 200, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status === status) return Date.now() - started;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `npx incidentd <args>` against the same configuration and database as a daemon. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'bin/incidentd.js'), ...args], { env: { ...process.env, ...env } });
  return stdout;
}

/** A fresh API token of the first administrator, the way a user gets one. */
export async function adminToken(env: NodeJS.ProcessEnv): Promise<string> {
  return (JSON.parse(await runCli(['token', 'rotate', 'admin@incidentd.local', '--json'], env)) as { token: string }).token;
}
