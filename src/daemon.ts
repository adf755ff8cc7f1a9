import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createApp, type App } from './app';
import { ConfigStore } from './config/config-store';
import type { IncidentdConfig } from './config/config-schema';
import { openDatabase, migrateToLatest, type Database } from './db/database';
import { SYSTEM_ACTOR } from './features/audit/audit-service';
import { systemClock, type Clock } from './platform/clock';
import { createLogger, type Logger } from './platform/logger';

export const SHUTDOWN_GRACE_MS = 10_000;
export const INITIAL_ADMIN_EMAIL = 'admin@incidentd.local';

export interface DaemonOptions {
  configFile: string;
  config: IncidentdConfig;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  logger?: Logger;
  /** Where human-facing start-up messages go (stdout by default). */
  print?: (line: string) => void;
}

export interface RunningDaemon {
  app: App;
  db: Database;
  server: Server;
  url: string;
  shutdown(reason: string): Promise<void>;
}

/** Opens the database (external or embedded), migrates, builds the app and listens. */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const env = options.env ?? process.env;
  const config = options.config;
  const logger = options.logger ?? createLogger(config.logging.level);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clock = options.clock ?? systemClock;

  const db = await openDatabase({ url: env.DATABASE_URL || config.database.url, embedded: config.database.embedded, logger });
  let app: App;
  try {
    await migrateToLatest(db.orm, logger);
    const configStore = new ConfigStore(options.configFile, config, env);
    app = await createApp({ configStore, orm: db.orm, clock, logger });
    await createInitialAdmin(app, print);
  } catch (error) {
    await db.close();
    throw error;
  }

  const server = createServer(app.express);
  const io = app.attachRealtime(server);
  server.listen(config.server.port, config.server.host);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  app.services.alertProcessor.start();
  const url = `http://${config.server.host}:${config.server.port}`;
  logger.info({ url, database: db.description }, 'incidentd listening');
  print(`incidentd listening on ${url}`);
  print(`database: ${db.description}`);
  print(`sign in at ${url}/login (add users with: npx incidentd user add --name NAME --email EMAIL --role ROLE)`);

  const sessionPurge = setInterval(() => {
    app.services.sessions.purgeExpired().catch((error) => logger.warn({ err: error }, 'session purge failed'));
  }, 60 * 60_000);
  sessionPurge.unref();

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down: draining in-flight requests');
      clearInterval(sessionPurge);
      app.beginShutdown();
      // socket.io keeps long-lived connections open; close them so the HTTP server can finish.
      io.disconnectSockets(true);
      await closeServer(server, SHUTDOWN_GRACE_MS, logger);
      await app.services.alertProcessor.stop();
      await db.close();
      logger.info('shutdown complete');
    })();
    return stopping;
  };
  return { app, db, server, url, shutdown };
}

/**
 * Stops accepting connections and waits for in-flight requests; idle keep-alive
 * connections are closed at once, anything still running after the grace period is cut.
 */
async function closeServer(server: Server, graceMs: number, logger: Logger): Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => sockets.add(socket));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const idleSweep = setInterval(() => server.closeIdleConnections(), 250);
  const timer = setTimeout(() => {
    logger.warn('grace period over; closing remaining connections');
    server.closeAllConnections();
  }, graceMs);
  await closed;
  clearInterval(idleSweep);
  clearTimeout(timer);
}

/** On an empty database, creates the first admin and prints its one-time credentials. */
async function createInitialAdmin(app: App, print: (line: string) => void): Promise<void> {
  if ((await app.services.users.countUsers()) > 0) return;
  try {
    const admin = await app.services.users.addUser({ name: 'Administrator', email: INITIAL_ADMIN_EMAIL, roles: ['admin'] }, SYSTEM_ACTOR);
    print('');
    print('First start: created the administrator account. These credentials are shown only once:');
    print(`  email:     ${admin.email}`);
    print(`  password:  ${admin.password}`);
    print(`  API token: ${admin.token}`);
    print('');
  } catch (error) {
    // Another replica created it at the same moment: fine.
    if ((error as { status?: number }).status !== 409) throw error;
  }
}
