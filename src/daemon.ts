import { createServer, type Server } from 'node:http';
import { createApp, type App } from './app';
import { listenForMetrics } from './features/health/metrics-endpoint';
import { ConfigStore } from './config/config-store';
import type { IncidentdConfig } from './config/config-schema';
import { openDatabase, migrateToLatest, type Database } from './db/database';
import { SYSTEM_ACTOR } from './features/audit/audit-service';
import { systemClock, type Clock } from './platform/clock';
import { ConflictError } from './platform/errors';
import { createLogger, type Logger } from './platform/logger';

/** SIGTERM to exit, at most: requests drain for 8 s, the rest closes in what is left. */
export const SHUTDOWN_DEADLINE_MS = 10_000;
const HTTP_DRAIN_MS = 8_000;
export const INITIAL_ADMIN_EMAIL = 'admin@incidentd.local';
// Any fixed number: every daemon sharing a database serialises its start-up on it.
const STARTUP_LOCK_KEY = 48_151_623;

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
  logger: Logger;
  url: string;
  /** Where Prometheus scrapes (server.metricsListen), or null when that is off. */
  metricsUrl: string | null;
  shutdown(reason: string): Promise<void>;
}

/** Opens the database (external or embedded), migrates, builds the app and listens. */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const env = options.env ?? process.env;
  const config = options.config;
  const logger = options.logger ?? createLogger(config.logging.level);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clock = options.clock ?? systemClock;

  const db = await openDatabase({ url: env.DATABASE_URL || config.database.url, embedded: config.database.embedded, logger, ownsEmbeddedServer: true });
  let app: App;
  try {
    const configStore = new ConfigStore(options.configFile, config, env);
    // Two daemons starting on one database: one migrates and creates the first admin, the
    // other waits for the lock and then finds everything done.
    app = await db.orm.em.getConnection().getKnex().transaction(async (lock) => {
      await lock.raw('select pg_advisory_xact_lock(?)', [STARTUP_LOCK_KEY]);
      await migrateToLatest(db.orm, logger);
      const built = await createApp({ configStore, orm: db.orm, clock, logger });
      await createInitialAdmin(built, print);
      return built;
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  warnAboutExampleSecrets(config, logger);

  const server = createServer(app.handleRequest);
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
  let metrics: Awaited<ReturnType<typeof listenForMetrics>> | null = null;
  try {
    if (config.server.metricsListen) metrics = await listenForMetrics(app.serveMetrics, config.server.metricsListen);
  } catch (error) {
    app.beginShutdown();
    io.disconnectSockets(true);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await db.close();
    throw error;
  }
  app.services.alertProcessor.start();
  // Missed timers (downtime) are due at once: the first tick fires them, once.
  app.services.timers.start();
  app.services.notificationSender.start();
  if (!config.smtp) logger.warn('no smtp section in the configuration: e-mails are kept in the outbox (GET /api/v1/notifications) until one is added');
  app.services.slaDigest.start();
  app.services.reviews.reminders.start();
  app.services.accessReview.reminders.start();
  // Pages with subscribers are built at once, so maintenance starts and ends reach them by the clock.
  for (const client of config.clients.filter((candidate) => candidate.statusPage.subscriptions)) {
    app.services.statusPages.get(client.id).catch((error) => logger.warn({ err: error, clientId: client.id }, 'could not build the status page at start'));
  }
  const url = `http://${config.server.host}:${config.server.port}`;
  logger.info({ url, database: db.description }, 'incidentd listening');
  print(`incidentd listening on ${url}`);
  print(`database: ${db.description}`);
  if (metrics) print(`metrics for Prometheus at ${metrics.url}${config.server.metricsToken ? ' (bearer token: server.metricsToken)' : ''}`);
  else print(config.server.metricsToken ? `metrics for Prometheus at ${url}/metrics (bearer token: server.metricsToken)` : 'metrics: not served (server.metricsListen is off and there is no server.metricsToken)');
  print(`sign in at ${url}/login (add users with: npx incidentd user add --name NAME --email EMAIL --role ROLE)`);

  // Housekeeping that may run in every replica at once (both are idempotent).
  const sessionPurge = setInterval(() => {
    app.services.sessions.purgeExpired().catch((error) => logger.warn({ err: error }, 'session purge failed'));
    app.services.loginThrottle.purgeExpired().catch((error) => logger.warn({ err: error }, 'sign-in counter purge failed'));
  }, 60 * 60_000);
  sessionPurge.unref();
  const closer = setInterval(() => {
    app.services.incidents.closeExpiredValidations().catch((error) => logger.warn({ err: error }, 'closing incidents after their validation window failed'));
  }, 60_000);
  closer.unref();

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down: draining in-flight requests');
      clearInterval(sessionPurge);
      clearInterval(closer);
      app.beginShutdown();
      // socket.io keeps long-lived connections open; close them so the HTTP server can finish.
      io.disconnectSockets(true);
      await closeServer(server, HTTP_DRAIN_MS, logger);
      // Scrapes are answered while requests drain; a scrape in progress now is simply cut.
      metrics?.server.closeAllConnections();
      metrics?.server.close();
      await Promise.all([app.services.alertProcessor.stop(), app.services.timers.stop(), app.services.notificationSender.stop(), app.services.slaDigest.stop(), app.services.reviews.reminders.stop(), app.services.accessReview.reminders.stop()]);
      await db.close();
      logger.info('shutdown complete');
    })();
    return stopping;
  };
  return { app, db, server, logger, url, metricsUrl: metrics?.url ?? null, shutdown };
}

/**
 * Stops accepting connections and waits for in-flight requests; idle keep-alive
 * connections are closed at once, anything still running after `drainMs` is cut.
 */
async function closeServer(server: Server, drainMs: number, logger: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const idleSweep = setInterval(() => server.closeIdleConnections(), 250);
  const timer = setTimeout(() => {
    logger.warn('drain time over; closing remaining connections');
    server.closeAllConnections();
  }, drainMs);
  await closed;
  clearInterval(idleSweep);
  clearTimeout(timer);
}

/**
 * On an empty database, creates the first admin and prints its one-time password (it
 * must be changed at the first sign-in). No API token is printed: start-up output ends
 * up in log collectors, and a token there would stay valid.
 */
async function createInitialAdmin(app: App, print: (line: string) => void): Promise<void> {
  if ((await app.services.users.countUsers()) > 0) return;
  try {
    const admin = await app.services.users.addUser({ name: 'Administrator', email: INITIAL_ADMIN_EMAIL, roles: ['admin'] }, SYSTEM_ACTOR);
    print('');
    print('First start: created the administrator account. Its one-time password is shown only once:');
    print(`  email:     ${admin.email}`);
    print(`  password:  ${admin.password}`);
    print(`Sign in and choose a new password; for an API token run: npx incidentd token rotate ${admin.email}`);
    print('');
  } catch (error) {
    // Another replica created it at the same moment: fine.
    if (!(error instanceof ConflictError)) throw error;
  }
}

function warnAboutExampleSecrets(config: IncidentdConfig, logger: Logger): void {
  for (const integration of config.integrations) {
    if (integration.token.startsWith('dev-only-')) {
      logger.warn({ integration: integration.name }, `integration "${integration.name}" uses the example configuration's development token; set its token from the environment before exposing incidentd`);
    }
  }
}
