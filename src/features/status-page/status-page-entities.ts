import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * A component status set by staff, which wins over the status derived from incidents and
 * maintenance until it expires or is cleared (one per component, i.e. per public service).
 */
export const StatusOverrideSchema = defineEntity({
  name: 'StatusOverride',
  properties: {
    serviceId: p.text().primary(),
    clientId: p.text().index(),
    status: p.text(),
    // Why, for the audit trail and staff; never shown on the public page.
    reason: p.text(),
    setBy: p.text(),
    setAt: p.datetime(),
    // Null: until cleared by hand.
    expiresAt: p.datetime().nullable(),
  },
});
export type StatusOverride = InferEntity<typeof StatusOverrideSchema>;

/**
 * An e-mail subscriber of a client's status page. Mail goes out only once `confirmedAt` is
 * set (double opt-in); an unsubscribed row stays so a later subscription starts clean.
 */
export const StatusSubscriberSchema = defineEntity({
  name: 'StatusSubscriber',
  properties: {
    id: p.integer().primary().autoincrement(),
    clientId: p.text(),
    email: p.text(),
    // Public service ids the subscriber chose; empty means every component.
    componentIds: p.array().default('{}'),
    createdAt: p.datetime(),
    confirmedAt: p.datetime().nullable(),
    unsubscribedAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['clientId', 'email'] }],
});
export type StatusSubscriber = InferEntity<typeof StatusSubscriberSchema>;
