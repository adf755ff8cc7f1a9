import { createHash, randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../../platform/clock';
import type { Principal } from './principal';
import { SessionSchema } from './session-entity';
import type { UserService } from '../users/user-service';

export const SESSION_COOKIE = 'incidentd_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

export type SessionService = ReturnType<typeof createSessionService>;

/** Browser sessions stored in PostgreSQL, so every replica accepts them and logout is real. */
export function createSessionService(deps: { orm: MikroORM; clock: Clock; users: UserService }) {
  return {
    async create(userId: number): Promise<{ id: string; expiresAt: Date }> {
      const id = randomBytes(32).toString('base64url');
      const now = deps.clock.now();
      const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
      const em = deps.orm.em.fork();
      em.create(SessionSchema, { idHash: hashSessionId(id), user: userId, createdAt: now, expiresAt });
      await em.flush();
      return { id, expiresAt };
    },

    async resolve(id: string): Promise<Principal | null> {
      const em = deps.orm.em.fork();
      const idHash = hashSessionId(id);
      const session = await em.findOne(SessionSchema, { idHash, expiresAt: { $gt: deps.clock.now() } });
      if (!session) return null;
      const principal = await deps.users.principalForUser(em, session.user.id, 'session');
      return principal ? { ...principal, sessionIdHash: idHash } : null;
    },

    async destroy(idHash: string): Promise<void> {
      await deps.orm.em.fork().nativeDelete(SessionSchema, { idHash });
    },

    async purgeExpired(): Promise<number> {
      return deps.orm.em.fork().nativeDelete(SessionSchema, { expiresAt: { $lte: deps.clock.now() } });
    },
  };
}
