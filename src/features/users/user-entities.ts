import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** A person who signs in: MSP staff, or a client's contact (role client_contact). */
export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'app_user',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.text(),
    // Stored lower-cased; the unique index is on this column.
    email: p.text().unique(),
    passwordHash: p.text().nullable().hidden(),
    // Set for generated (one-time) passwords: the first sign-in must choose a new one.
    passwordMustChange: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
    disabledAt: p.datetime().nullable(),
  },
});
export type User = InferEntity<typeof UserSchema>;

/**
 * One role held by one user, with its history: a grant is never deleted, only revoked,
 * so the access review can say who held what since when (ACC-01).
 */
export const RoleGrantSchema = defineEntity({
  name: 'RoleGrant',
  properties: {
    id: p.integer().primary().autoincrement(),
    user: () => p.manyToOne(UserSchema).deleteRule('cascade').index(),
    role: p.text(),
    // Only for client_contact: the client (config clients[].id) this person belongs to.
    clientId: p.text().nullable(),
    grantedAt: p.datetime(),
    grantedBy: p.text(),
    revokedAt: p.datetime().nullable(),
    revokedBy: p.text().nullable(),
  },
});
export type RoleGrant = InferEntity<typeof RoleGrantSchema>;

/** API bearer token. Only a SHA-256 hash is stored; the token is shown once at creation. */
export const ApiTokenSchema = defineEntity({
  name: 'ApiToken',
  properties: {
    id: p.integer().primary().autoincrement(),
    user: () => p.manyToOne(UserSchema).deleteRule('cascade').index(),
    tokenHash: p.text().unique().hidden(),
    // First characters of the token, to recognise it in listings without revealing it.
    prefix: p.text(),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
});
export type ApiToken = InferEntity<typeof ApiTokenSchema>;
