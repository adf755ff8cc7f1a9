import type { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from '../auth/roles';

/** E-mail addresses of the active users who hold a role now (in the caller's transaction, if any). */
export async function usersWithRole(em: EntityManager, role: Role): Promise<string[]> {
  const rows = await em.getConnection().execute<{ email: string }[]>(
    'select distinct u.email from role_grant g join app_user u on u.id = g.user_id where g.role = ? and g.revoked_at is null and u.disabled_at is null order by u.email',
    [role],
    'all',
    em.getTransactionContext(),
  );
  return rows.map((row) => row.email);
}
