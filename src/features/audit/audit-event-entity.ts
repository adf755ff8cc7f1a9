import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * One row per state change, append-only: a database trigger refuses UPDATE, DELETE and
 * TRUNCATE on this table (see the migration), so not even a bug in the daemon can rewrite
 * history.
 */
export const AuditEventSchema = defineEntity({
  name: 'AuditEvent',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    at: p.datetime().index(),
    // user | integration | system | cli
    actorType: p.text(),
    actorId: p.text().nullable(),
    actorName: p.text(),
    action: p.text(),
    entityType: p.text(),
    entityId: p.text(),
    // Client the record belongs to, so client-scoped evidence exports are possible.
    clientId: p.text().nullable(),
    before: p.json<Record<string, unknown>>().nullable(),
    after: p.json<Record<string, unknown>>().nullable(),
    requestId: p.text().nullable(),
  },
  indexes: [{ properties: ['entityType', 'entityId'] }],
});
export type AuditEvent = InferEntity<typeof AuditEventSchema>;
