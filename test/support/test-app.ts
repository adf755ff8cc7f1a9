import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import supertest from 'supertest';
import { createApp, type App } from '../../src/app';
import { ConfigStore } from '../../src/config/config-store';
import { loadConfigOrThrow } from '../../src/config/load-config';
import { createOrm, migrateToLatest } from '../../src/db/database';
import type { LoginThrottleLimits } from '../../src/features/auth/login-throttle';
import type { Role } from '../../src/features/auth/roles';
import type { MaintenanceSource } from '../../src/features/status-page/maintenance-source';
import { FakeClock } from '../../src/platform/clock';
import { createLogger, type Logger } from '../../src/platform/logger';
import type { TcpProxy } from './tcp-proxy';
import { createTestDatabase, type TestDatabase } from './test-database';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const EXAMPLE_CONFIG = path.join(REPO_ROOT, 'config/incidentd.yaml');

export interface TestApp {
  app: App;
  orm: MikroORM;
  db: TestDatabase;
  clock: FakeClock;
  configStore: ConfigStore;
  http: supertest.Agent;
  /** The text Prometheus would scrape from the metrics listener (with the metrics token when one is set). */
  scrapeMetrics(): Promise<string>;
  /** Creates a user with the given role(s) and returns its bearer token. */
  tokenFor(roles: Role | Role[], options?: { clientId?: string; email?: string }): Promise<string>;
  close(): Promise<void>;
}

let userCounter = 0;

/** A complete app on its own fresh database, built exactly as the daemon builds it. */
export async function startTestApp(
  options: { configFile?: string; loginThrottle?: Partial<LoginThrottleLimits>; databaseProxy?: TcpProxy; alertBatchSize?: number; maintenance?: MaintenanceSource; logger?: Logger } = {},
): Promise<TestApp> {
  const configFile = options.configFile ?? EXAMPLE_CONFIG;
  const db = await createTestDatabase();
  const logger = options.logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  let url = db.url;
  if (options.databaseProxy) {
    const target = new URL(db.url);
    await options.databaseProxy.start();
    target.port = String(options.databaseProxy.port);
    target.hostname = '127.0.0.1';
    url = target.toString();
  }
  const orm = await createOrm(url, logger, 5);
  await migrateToLatest(orm, logger);
  const clock = new FakeClock('2026-03-02T10:00:00Z');
  const configStore = new ConfigStore(configFile, loadConfigOrThrow(configFile));
  const app = await createApp({ configStore, orm, clock, logger, rootDir: REPO_ROOT, loginThrottle: options.loginThrottle, alertBatchSize: options.alertBatchSize, maintenance: options.maintenance });
  return {
    app,
    orm,
    db,
    clock,
    configStore,
    http: supertest.agent(app.handleRequest),
    async scrapeMetrics() {
      const token = configStore.current.server.metricsToken;
      const res = await supertest(app.serveMetrics).get('/metrics').set(token ? { Authorization: `Bearer ${token}` } : {});
      if (res.status !== 200) throw new Error(`metrics scrape answered ${res.status}: ${res.text}`);
      return res.text;
    },
    async tokenFor(roles, extra = {}) {
      const list = Array.isArray(roles) ? roles : [roles];
      userCounter += 1;
      const created = await app.services.users.addUser(
        { name: `Test ${list.join(' ')} ${userCounter}`, email: extra.email ?? `user${userCounter}.${list[0]}@test.example`, roles: list, clientId: extra.clientId },
        { type: 'system', name: 'test' },
      );
      return created.token;
    },
    async close() {
      app.beginShutdown();
      // Ends the processor's lease connection (it runs whenever intake wakes it).
      await app.services.alertProcessor.stop();
      await orm.close(true);
      await db.drop();
    },
  };
}
