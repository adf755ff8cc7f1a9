import type { EntityManager } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { NotificationSchema, type Notification } from './notification-entities';

export interface OutgoingMessage {
  /** escalation.page, escalation.manual, sla.warning, sla.breach, ... */
  kind: string;
  incidentId: number | null;
  /** People, by email address. */
  recipients: string[];
  subject: string;
  body: string;
  /** Identifies the event: the same event never produces a second row for a recipient. */
  eventKey: string;
  /** HTML alternative of `body` (for the e-mail sender). */
  html?: string;
  /** Extra mail headers, e.g. List-Unsubscribe. */
  headers?: Record<string, string>;
}

/** Kinds that page a person; several pages to one person within the window become one message. */
const COMBINABLE = /^(escalation|sla)\./;

export type Outbox = ReturnType<typeof createOutbox>;

/**
 * Writes messages into the notification outbox, in the caller's transaction: one row per
 * person (channel email) and one per subscribed webhook. Senders deliver them later, with
 * retries (webhook-sender.ts; e-mail comes with the notifications feature).
 *
 * Storm safety: a page to someone who was paged within `escalation.combineWindow` is not
 * a new message. It joins the digest that goes out when the window closes, so an alert
 * storm opening 300 incidents pages a person a handful of times, not 300.
 */
export function createOutbox(deps: { clock: Clock; configStore: ConfigStore }) {
  async function toPerson(em: EntityManager, message: OutgoingMessage, recipient: string, now: Date): Promise<Notification | null> {
    const dedupKey = `${message.eventKey}|email:${recipient}`;
    if (await em.count(NotificationSchema, { dedupKey })) return null;
    const windowMs = parseDuration(deps.configStore.current.escalation.combineWindow) ?? 120_000;
    if (COMBINABLE.test(message.kind) && windowMs > 0) {
      const recent = await em.findOne(
        NotificationSchema,
        { channel: 'email', recipient, kind: { $like: `${message.kind.split('.')[0]}.%` }, createdAt: { $gte: new Date(now.getTime() - windowMs) } },
        { orderBy: { createdAt: 'desc' } },
      );
      if (recent && recent.status === 'pending' && recent.sendAfter > now) {
        // A digest is already waiting for the window to close: add this page to it.
        recent.combinedCount += 1;
        recent.subject = `${recent.combinedCount} incident notifications`;
        recent.body = `${recent.body}\n\n---\n\n${message.subject}\n${message.body}`;
        return recent;
      }
      if (recent) {
        // Paged moments ago: this one waits, as a digest, until the window closes.
        return create(em, message, recipient, dedupKey, 'email', new Date(recent.createdAt.getTime() + windowMs), now);
      }
    }
    return create(em, message, recipient, dedupKey, 'email', now, now);
  }

  function create(em: EntityManager, message: OutgoingMessage, recipient: string, dedupKey: string, channel: string, sendAfter: Date, now: Date): Notification {
    return em.create(NotificationSchema, {
      createdAt: now,
      kind: message.kind,
      channel,
      recipient,
      incident: message.incidentId,
      subject: message.subject,
      body: message.body,
      dedupKey,
      status: 'pending',
      sendAfter,
      attempts: 0,
      nextAttemptAt: sendAfter,
      combinedCount: 1,
    });
  }

  return {
    async enqueue(em: EntityManager, message: OutgoingMessage): Promise<void> {
      const now = deps.clock.now();
      for (const recipient of [...new Set(message.recipients.map((email) => email.toLowerCase()))]) await toPerson(em, message, recipient, now);
      for (const webhook of deps.configStore.current.notifications.webhooks) {
        if (webhook.events && !webhook.events.some((prefix) => message.kind === prefix || message.kind.startsWith(`${prefix}.`))) continue;
        const dedupKey = `${message.eventKey}|webhook:${webhook.name}`;
        if (await em.count(NotificationSchema, { dedupKey })) continue;
        create(em, message, webhook.name, dedupKey, 'webhook', now, now);
      }
    },
  };
}
