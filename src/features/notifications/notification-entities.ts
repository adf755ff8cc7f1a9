import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/**
 * The outbox: every message is first a row, written in the same transaction as the event
 * that caused it; senders deliver rows with retries. Never fire-and-forget.
 */
export const NotificationSchema = defineEntity({
  name: 'Notification',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    createdAt: p.datetime(),
    // escalation.page | escalation.manual | sla.warning | sla.breach | ...
    kind: p.text(),
    // email | webhook
    channel: p.text(),
    // An email address, or a webhook's name.
    recipient: p.text(),
    incident: () => p.manyToOne(IncidentSchema).nullable().deleteRule('set null').index(),
    // Client messages carry the client, for its branding and for reports.
    clientId: p.text().nullable(),
    subject: p.text(),
    // Plain text (e-mail text part, webhook text).
    body: p.text(),
    // E-mail HTML part, rendered when the message was written; staff pages get theirs at sending.
    html: p.text().nullable(),
    // Extra e-mail headers (e.g. List-Unsubscribe).
    headers: p.json<Record<string, string>>().nullable(),
    // One row per event and recipient, whoever writes it and however often.
    dedupKey: p.text().unique(),
    // pending | sending | sent | dead
    status: p.text(),
    sendAfter: p.datetime(),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime(),
    leaseUntil: p.datetime().nullable(),
    lastError: p.text().nullable(),
    sentAt: p.datetime().nullable(),
    // E-mail Message-ID, the same on every attempt, so a re-send after a crash is recognisably the same message.
    messageId: p.text().nullable(),
    // What the receiving server answered (SMTP reply, HTTP status).
    response: p.text().nullable(),
    // Storm safety: how many pages this message carries (combined within the window).
    combinedCount: p.integer().default(1),
  },
  indexes: [
    { name: 'notification_pending_due', expression: "create index notification_pending_due on notification (next_attempt_at) where status = 'pending'" },
    // Sent rows pile up; the metrics only count the others.
    { name: 'notification_unsent', expression: "create index notification_unsent on notification (channel, status) where status <> 'sent'" },
    { properties: ['recipient', 'createdAt'] },
  ],
});
export type Notification = InferEntity<typeof NotificationSchema>;
