import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import supertest from 'supertest';
import { createApp, type App } from '../../src/app';
import { ConfigStore } from '../../src/config/config-store';
import { loadConfigOrThrow } from '../../src/config/load-config';
import { createOrm, migrateToLatest } from '../../src/db/database';
import type { Role } from '../../src/features/auth/roles';
import type { MaintenanceSource } from '../../src/features/status-page/maintenance-source';
import { FakeClock } from '../../src/platform/clock';
import { createLogger } from '../../src/platform/logger';
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
  /** Creates a user with the given role(s) and returns its bearer token. */
  tokenFor(roles: Role | Role[], options?: { clientId?: string; email?: string }): Promise<string>;
  close(): Promise<void>;
}

let userCounter = 0;

/** A complete app on its own fresh database, built exactly as the daemon builds it. */
export async function startTestApp(
  options: { configFile?: string; loginRateLimit?: { windowMs: number; limit: number }; databaseProxy?: TcpProxy; alertBatchSize?: number; maintenance?: MaintenanceSource } = {},
): Promise<TestApp> {
  const configFile = options.configFile ?? EXAMPLE_CONFIG;
  const db = await createTestDatabase();
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
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
  const app = await createApp({ configStore, orm, clock, logger, rootDir: REPO_ROOT, loginRateLimit: options.loginRateLimit, alertBatchSize: options.alertBatchSize, maintenance: options.maintenance });
  return {
    app,
    orm,
    db,
    clock,
    configStore,
    http: supertest.agent(app.handleRequest),
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
      // Ends the processor's lease connection (it runs whenever intake wakes it).
      await app.services.alertProcessor.stop();
      await orm.close(true);
      await db.drop();
    },
  };
}
