import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../platform/logger';
import { startEmbeddedPostgres } from './embedded-postgres';
import { entities } from './entities';
import { migrations } from './migrations';

export interface Database {
  orm: MikroORM;
  /** Where the data lives, for start-up messages; never contains a password. */
  description: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A postgres:// URL (DATABASE_URL or config database.url). Without it the embedded server is used. */
  url?: string;
  embedded: { dataDir: string; port: number };
  logger: Logger;
  /** The daemon owns an embedded server it finds running (stops it at exit); the CLI only borrows it. */
  ownsEmbeddedServer?: boolean;
  poolSize?: number;
}

/** The database refuses to be used because it holds migrations this build does not have. */
export class SchemaNewerThanCodeError extends Error {
  constructor(readonly unknownMigrations: string[]) {
    super(
      `the database schema is newer than this build of incidentd (unknown migrations: ${unknownMigrations.join(', ')}); ` +
        'run the newer version, or restore a backup taken before the upgrade',
    );
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let url = options.url;
  let description: string;
  let stopEmbedded = async () => {};
  if (url) {
    description = describeUrl(url);
  } else {
    const embedded = await startEmbeddedPostgres({ ...options.embedded, logger: options.logger, owner: options.ownsEmbeddedServer ?? false });
    url = embedded.url;
    stopEmbedded = embedded.stop;
    description = embedded.description;
  }
  let orm: MikroORM;
  try {
    orm = await createOrm(url, options.logger, options.poolSize);
  } catch (error) {
    await stopEmbedded();
    throw error;
  }
  return {
    orm,
    description,
    close: async () => {
      await orm.close(true);
      await stopEmbedded();
    },
  };
}

export async function createOrm(url: string, logger: Logger, poolSize = 10): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: url,
    entities,
    extensions: [Migrator],
    // Every unit of work gets its own fork (per request, per engine tick): using the
    // global context by accident is a bug, so it throws.
    allowGlobalContext: false,
    pool: { min: 0, max: poolSize },
    // Fail fast when the database is away: a webhook answered 503 within seconds is
    // retried by its sender; one left hanging for knex's default minute times out.
    driverOptions: { acquireConnectionTimeout: 5000, connection: { application_name: 'incidentd', connectionTimeoutMillis: 3000 } },
    migrations: {
      migrationsList: migrations,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      // The default would `set session_replication_role`, which needs a superuser.
      disableForeignKeys: false,
      snapshot: false,
    },
    logger: (message) => logger.debug({ orm: message }, 'orm'),
  });
}

/**
 * Applies pending migrations. Refuses a database that has migrations this code does not
 * know: running old code on a newer schema silently corrupts data.
 */
export async function migrateToLatest(orm: MikroORM, logger: Logger): Promise<string[]> {
  const migrator = orm.getMigrator();
  const known = new Set(migrations.map((m) => m.name));
  const executed = await migrator.getExecutedMigrations();
  const unknown = executed.map((row) => row.name).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new SchemaNewerThanCodeError(unknown);
  const applied = await migrator.up();
  const names = applied.map((m) => m.name);
  if (names.length > 0) logger.info({ migrations: names }, 'database migrations applied');
  return names;
}

/** True when the database answers and has every migration this build knows. */
export async function isDatabaseReady(orm: MikroORM): Promise<boolean> {
  try {
    const pending = await orm.getMigrator().getPendingMigrations();
    return pending.length === 0;
  } catch {
    return false;
  }
}

export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `PostgreSQL at ${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'PostgreSQL (unparseable DATABASE_URL)';
  }
}
