import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * Returns the installation-wide secret stored under `key`, creating it on first use.
 * `on conflict do nothing` makes two replicas starting at once agree on one value.
 */
export async function getOrCreateInstanceSecret(orm: MikroORM, key: string): Promise<string> {
  const connection = orm.em.getConnection();
  await connection.execute(
    'insert into instance_setting (key, value, created_at) values (?, ?, now()) on conflict (key) do nothing',
    [key, randomBytes(32).toString('base64url')],
  );
  const rows = await connection.execute<{ value: string }[]>('select value from instance_setting where key = ?', [key]);
  return rows[0]!.value;
}
