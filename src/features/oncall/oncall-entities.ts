import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { UserSchema } from '../users/user-entities';

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

/**
 * A person's secret calendar feed address (issue 21 §4). Only the token's SHA-256 is kept:
 * the address is shown once, when it is made; making a new one (rotating) or deleting the
 * row ends the old one. One per user.
 */
export const OncallCalendarFeedSchema = defineEntity({
  name: 'OncallCalendarFeed',
  properties: {
    user: () => p.manyToOne(UserSchema).primary().deleteRule('cascade'),
    tokenHash: p.text().unique().hidden(),
    createdAt: p.datetime(),
    createdBy: p.text(),
  },
});
export type OncallCalendarFeed = InferEntity<typeof OncallCalendarFeedSchema>;
