import { afterEach, describe, expect, it } from 'vitest';
import { createOrm, migrateToLatest, SchemaNewerThanCodeError } from '../../src/db/database';
import { migrations } from '../../src/db/migrations';
import { createLogger } from '../../src/platform/logger';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const logger = createLogger('silent');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function freshOrm(): Promise<{ db: TestDatabase; orm: Awaited<ReturnType<typeof createOrm>> }> {
  const db = await createTestDatabase();
  const orm = await createOrm(db.url, logger, 2);
  cleanups.push(async () => {
    await orm.close(true);
    await db.drop();
  });
  return { db, orm };
}

describe('migrations', () => {
  it('build the whole schema on an empty database, and a second run changes nothing', async () => {
    const { orm } = await freshOrm();
    const applied = await migrateToLatest(orm, logger);
    expect(applied).toEqual(migrations.map((m) => m.name));
    const tables = await orm.em.getConnection().execute<{ table_name: string }[]>(
      "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['api_token', 'app_user', 'audit_event', 'instance_setting', 'mikro_orm_migrations', 'role_grant', 'web_session']),
    );
    expect(await migrateToLatest(orm, logger)).toEqual([]);
  });

  it('match the entity definitions exactly (no drift between migrations and code)', async () => {
    const { orm } = await freshOrm();
    await migrateToLatest(orm, logger);
    const diff = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
    expect(diff.trim()).toBe('');
  });

  it('refuse a database whose schema is newer than the code', async () => {
    const { orm } = await freshOrm();
    await migrateToLatest(orm, logger);
    await orm.em.getConnection().execute("insert into mikro_orm_migrations (name, executed_at) values ('9999-from-the-future', now())");
    const attempt = migrateToLatest(orm, logger);
    await expect(attempt).rejects.toBeInstanceOf(SchemaNewerThanCodeError);
    await expect(migrateToLatest(orm, logger)).rejects.toThrow(/schema is newer than this build of incidentd \(unknown migrations: 9999-from-the-future\)/);
  });
});
