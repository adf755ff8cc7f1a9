import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../../platform/clock';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors';
import type { Actor, AuditService } from '../audit/audit-service';
import { announceAccessRevoked } from '../auth/access-revocations';
import type { Principal } from '../auth/principal';
import { isRole, type Role } from '../auth/roles';
import { generateApiToken, generatePassword, hashPassword, hashToken, verifyPassword } from './credentials';
import { ApiTokenSchema, RoleGrantSchema, UserSchema, type User } from './user-entities';

export interface NewUser {
  name: string;
  email: string;
  roles: string[];
  /** Required with the client_contact role: the client this person belongs to. */
  clientId?: string;
}

/** A new user with the credentials shown exactly once. */
export interface CreatedUser {
  id: number;
  name: string;
  email: string;
  roles: Role[];
  clientId: string | null;
  password: string;
  token: string;
}

export type UserService = ReturnType<typeof createUserService>;

export function createUserService(deps: {
  orm: MikroORM;
  clock: Clock;
  audit: AuditService;
  /** Known client ids, to refuse a client_contact bound to a client that does not exist. */
  knownClientIds: () => ReadonlySet<string>;
}) {
  const { orm, clock, audit } = deps;
  // A real hash of a random password: verifying against it for unknown emails takes as
  // long as for known ones, so response time does not reveal which emails have accounts.
  const dummyHash = hashPassword(generatePassword());

  function validateRoles(input: NewUser): Role[] {
    const problems: { path: string; message: string }[] = [];
    const roles: Role[] = [];
    for (const [index, role] of input.roles.entries()) {
      if (isRole(role)) roles.push(role);
      else problems.push({ path: `roles[${index}]`, message: `unknown role "${role}"` });
    }
    if (roles.length === 0 && problems.length === 0) problems.push({ path: 'roles', message: 'at least one role is required' });
    if (roles.includes('client_contact')) {
      if (roles.length > 1) problems.push({ path: 'roles', message: 'client_contact cannot be combined with staff roles' });
      if (!input.clientId) problems.push({ path: 'client', message: 'client_contact needs the client it belongs to' });
      else if (!deps.knownClientIds().has(input.clientId)) problems.push({ path: 'client', message: `unknown client "${input.clientId}"` });
    } else if (input.clientId) {
      problems.push({ path: 'client', message: 'only client_contact users are bound to a client' });
    }
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.email)) problems.push({ path: 'email', message: 'not an email address' });
    if (!input.name.trim()) problems.push({ path: 'name', message: 'must not be empty' });
    if (problems.length > 0) throw new ValidationError('invalid user', problems);
    return roles;
  }

  async function activeGrants(em: EntityManager, userIds: number[]) {
    return em.find(RoleGrantSchema, { user: { $in: userIds }, revokedAt: null }, { orderBy: { id: 'asc' } });
  }

  async function findByEmail(em: EntityManager, email: string): Promise<User> {
    const user = await em.findOne(UserSchema, { email: email.toLowerCase() });
    if (!user) throw new NotFoundError(`no user with email ${email}`);
    return user;
  }

  async function toPrincipal(em: EntityManager, user: User, via: Principal['via']): Promise<Principal | null> {
    if (user.disabledAt) return null;
    const grants = await activeGrants(em, [user.id]);
    if (grants.length === 0) return null;
    return {
      userId: user.id,
      name: user.name,
      email: user.email,
      roles: grants.map((grant) => grant.role as Role),
      clientId: grants.find((grant) => grant.clientId)?.clientId ?? null,
      via,
      ...(via === 'session' && user.passwordMustChange ? { passwordChangeRequired: true } : {}),
    };
  }

  return {
    async addUser(input: NewUser, actor: Actor): Promise<CreatedUser> {
      const roles = validateRoles(input);
      const password = generatePassword();
      const token = generateApiToken();
      const passwordHash = await hashPassword(password);
      const email = input.email.trim().toLowerCase();
      const conflict = () => new ConflictError(`a user with email ${email} already exists`);
      return orm.em.fork().transactional(async (em) => {
        if (await em.count(UserSchema, { email })) throw conflict();
        const now = clock.now();
        const user = em.create(UserSchema, { name: input.name.trim(), email, passwordHash, passwordMustChange: true, createdAt: now, disabledAt: null });
        await em.flush();
        for (const role of roles) {
          em.create(RoleGrantSchema, { user, role, clientId: role === 'client_contact' ? input.clientId! : null, grantedAt: now, grantedBy: actor.name, revokedAt: null, revokedBy: null });
        }
        em.create(ApiTokenSchema, { user, tokenHash: hashToken(token), prefix: token.slice(0, 10), createdAt: now });
        audit.record(em, {
          actor,
          action: 'user.created',
          entityType: 'user',
          entityId: user.id,
          clientId: input.clientId ?? null,
          after: { name: user.name, email, roles, clientId: input.clientId ?? null },
        });
        return { id: user.id, name: user.name, email, roles, clientId: input.clientId ?? null, password, token };
      }).catch((error) => {
        // Two requests racing past the check above: the unique index decides.
        throw error instanceof UniqueConstraintViolationException ? conflict() : error;
      });
    },

    async listUsers() {
      const em = orm.em.fork();
      const users = await em.find(UserSchema, {}, { orderBy: { id: 'asc' } });
      const grants = await activeGrants(em, users.map((user) => user.id));
      return users.map((user) => ({
        id: user.id,
        name: user.name,
        email: user.email,
        roles: grants.filter((grant) => grant.user.id === user.id).map((grant) => grant.role),
        clientId: grants.find((grant) => grant.user.id === user.id && grant.clientId)?.clientId ?? null,
        disabled: user.disabledAt !== null,
        createdAt: user.createdAt.toISOString(),
      }));
    },

    /** Disables sign-in, revokes every token and ends every session. The record stays. */
    async disableUser(email: string, actor: Actor): Promise<void> {
      await orm.em.fork().transactional(async (em) => {
        const user = await findByEmail(em, email);
        if (user.disabledAt) return;
        user.disabledAt = clock.now();
        await em.nativeUpdate(ApiTokenSchema, { user, revokedAt: null }, { revokedAt: clock.now() });
        await em.getConnection().execute('delete from web_session where user_id = ?', [user.id], 'run', em.getTransactionContext());
        await announceAccessRevoked(em, user.id);
        audit.record(em, { actor, action: 'user.disabled', entityType: 'user', entityId: user.id, before: { disabled: false }, after: { disabled: true } });
      });
    },

    /** Revokes the user's tokens and issues a new one, shown once. */
    async rotateToken(email: string, actor: Actor): Promise<string> {
      const token = generateApiToken();
      await orm.em.fork().transactional(async (em) => {
        const user = await findByEmail(em, email);
        if (user.disabledAt) throw new ConflictError(`user ${email} is disabled`);
        const revoked = await em.nativeUpdate(ApiTokenSchema, { user, revokedAt: null }, { revokedAt: clock.now() });
        em.create(ApiTokenSchema, { user, tokenHash: hashToken(token), prefix: token.slice(0, 10), createdAt: clock.now() });
        if (revoked > 0) await announceAccessRevoked(em, user.id);
        audit.record(em, { actor, action: 'user.token_rotated', entityType: 'user', entityId: user.id, after: { revokedTokens: revoked, newTokenPrefix: token.slice(0, 10) } });
      });
      return token;
    },

    /** Issues a new one-time password (the old one stops working); shown once. */
    async resetPassword(email: string, actor: Actor): Promise<string> {
      const password = generatePassword();
      const passwordHash = await hashPassword(password);
      await orm.em.fork().transactional(async (em) => {
        const user = await findByEmail(em, email);
        if (user.disabledAt) throw new ConflictError(`user ${email} is disabled`);
        user.passwordHash = passwordHash;
        user.passwordMustChange = true;
        await em.getConnection().execute('delete from web_session where user_id = ?', [user.id], 'run', em.getTransactionContext());
        await announceAccessRevoked(em, user.id);
        audit.record(em, { actor, action: 'user.password_reset', entityType: 'user', entityId: user.id });
      });
      return password;
    },

    /**
     * A person choosing their own password, proving they know the current one. Every other
     * session of theirs ends (whoever else may have known the old password is signed out);
     * the session they did it from (`keepSessionHash`) stays. `revokeTokens` revokes their API
     * tokens too, for when the password was not the only thing that leaked.
     */
    async changePassword(userId: number, currentPassword: string, newPassword: string, actor: Actor, options: { keepSessionHash?: string; revokeTokens?: boolean } = {}): Promise<{ sessionsEnded: number; tokensRevoked: number }> {
      const problems = passwordProblems(newPassword, currentPassword);
      if (problems.length > 0) throw new ValidationError('the new password is not acceptable', problems.map((message) => ({ path: 'newPassword', message })));
      const passwordHash = await hashPassword(newPassword);
      return orm.em.fork().transactional(async (em) => {
        const user = await em.findOneOrFail(UserSchema, { id: userId });
        if (!(await verifyPassword(user.passwordHash ?? (await dummyHash), currentPassword))) {
          throw new ValidationError('the current password is wrong', [{ path: 'currentPassword', message: 'does not match' }]);
        }
        user.passwordHash = passwordHash;
        user.passwordMustChange = false;
        const ended = await em.getConnection().execute<{ affectedRows: number }>('delete from web_session where user_id = ? and id_hash <> ?', [user.id, options.keepSessionHash ?? ''], 'run', em.getTransactionContext());
        const sessionsEnded = ended.affectedRows;
        const tokensRevoked = options.revokeTokens ? await em.nativeUpdate(ApiTokenSchema, { user, revokedAt: null }, { revokedAt: clock.now() }) : 0;
        if (sessionsEnded + tokensRevoked > 0) await announceAccessRevoked(em, user.id);
        audit.record(em, { actor, action: 'user.password_changed', entityType: 'user', entityId: user.id, after: { otherSessionsEnded: sessionsEnded, tokensRevoked } });
        return { sessionsEnded, tokensRevoked };
      });
    },

    /** How many API tokens of this user work (the password form offers to revoke them). */
    async activeTokenCount(userId: number): Promise<number> {
      return orm.em.fork().count(ApiTokenSchema, { user: userId, revokedAt: null });
    },

    async authenticateToken(token: string): Promise<Principal | null> {
      const em = orm.em.fork();
      // A lookup by hash: the hash is not secret, so timing tells nothing about the token.
      const row = await em.findOne(ApiTokenSchema, { tokenHash: hashToken(token), revokedAt: null }, { populate: ['user'] });
      if (!row) return null;
      // "Last used" for the access review, written at most every 5 minutes per token.
      const now = clock.now();
      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 5 * 60_000) {
        void em.fork().nativeUpdate(ApiTokenSchema, { id: row.id }, { lastUsedAt: now }).catch(() => {});
      }
      return toPrincipal(em, row.user, 'token');
    },

    async authenticatePassword(email: string, password: string): Promise<Principal | null> {
      const em = orm.em.fork();
      const user = await em.findOne(UserSchema, { email: email.trim().toLowerCase() });
      const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
      if (!user || !ok) return null;
      return toPrincipal(em, user, 'session');
    },

    async principalForUser(em: EntityManager, userId: number, via: Principal['via']): Promise<Principal | null> {
      const user = await em.findOne(UserSchema, { id: userId });
      return user ? toPrincipal(em, user, via) : null;
    },

    /** ACC-01: every role grant, active and revoked, with who granted it and since when. */
    async accessReview() {
      const em = orm.em.fork();
      const grants = await em.find(RoleGrantSchema, {}, { populate: ['user'], orderBy: { user: { id: 'asc' }, grantedAt: 'asc' } });
      return grants.map((grant) => ({
        user: { id: grant.user.id, name: grant.user.name, email: grant.user.email, disabled: grant.user.disabledAt !== null },
        role: grant.role,
        clientId: grant.clientId,
        grantedAt: grant.grantedAt.toISOString(),
        grantedBy: grant.grantedBy,
        revokedAt: grant.revokedAt?.toISOString() ?? null,
        revokedBy: grant.revokedBy,
        active: grant.revokedAt === null && grant.user.disabledAt === null,
      }));
    },

    async countUsers(): Promise<number> {
      return orm.em.fork().count(UserSchema, {});
    },
  };
}

export const MIN_PASSWORD_LENGTH = 12;

/** Length over composition rules (NIST SP 800-63B): long enough, and not the old one. */
export function passwordProblems(newPassword: string, currentPassword: string): string[] {
  const problems: string[] = [];
  if (newPassword.length < MIN_PASSWORD_LENGTH) problems.push(`must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (newPassword.length > 200) problems.push('must be at most 200 characters');
  if (newPassword === currentPassword) problems.push('must differ from the current password');
  return problems;
}
