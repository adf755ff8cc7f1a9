import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** A temporary replacement in an on-call rotation (holiday, sick day, swap). */
export const OncallOverrideSchema = defineEntity({
  name: 'OncallOverride',
  properties: {
    id: p.integer().primary().autoincrement(),
    rotationId: p.text().index(),
    email: p.text(),
    startsAt: p.datetime(),
    endsAt: p.datetime(),
    reason: p.text().default(''),
    createdBy: p.text(),
    createdAt: p.datetime(),
    // Cancelled overrides stay for the record.
    cancelledAt: p.datetime().nullable(),
  },
});
export type OncallOverride = InferEntity<typeof OncallOverrideSchema>;
