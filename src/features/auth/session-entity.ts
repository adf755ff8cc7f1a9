import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { UserSchema } from '../users/user-entities';

/** A browser session. The cookie carries a random id; only its SHA-256 hash is stored. */
export const SessionSchema = defineEntity({
  name: 'Session',
  tableName: 'web_session',
  properties: {
    idHash: p.text().primary(),
    user: () => p.manyToOne(UserSchema).deleteRule('cascade').index(),
    createdAt: p.datetime(),
    expiresAt: p.datetime().index(),
  },
});
export type Session = InferEntity<typeof SessionSchema>;
