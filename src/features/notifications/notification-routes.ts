import { z } from 'zod';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ConflictError, NotFoundError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import type { Clock } from '../../platform/clock';
import type { AuditService } from '../audit/audit-service';
import { parseIncidentId } from '../incidents/incident-rules';
import { IncidentSchema } from '../incidents/incident-entities';
import { NotificationSchema, type Notification } from './notification-entities';

function present(notification: Notification) {
  return {
    id: notification.id,
    createdAt: notification.createdAt.toISOString(),
    kind: notification.kind,
    channel: notification.channel,
    recipient: notification.recipient,
    incidentId: notification.incident?.id ?? null,
    subject: notification.subject,
    // A personal message's body holds its recipient's link; staff must not act as the client.
    body: notification.personal ? '(personal message with a link for its recipient; not shown)' : notification.body,
    personal: notification.personal,
    status: notification.status,
    sendAfter: notification.sendAfter.toISOString(),
    attempts: notification.attempts,
    nextAttemptAt: notification.nextAttemptAt.toISOString(),
    lastError: notification.lastError,
    sentAt: notification.sentAt?.toISOString() ?? null,
    messageId: notification.messageId,
    response: notification.response,
    combinedCount: notification.combinedCount,
  };
}

/** The outbox, readable by the people who run incidents; dead letters retriable by admins. */
export function registerNotificationRoutes(api: ApiRouter, deps: { orm: MikroORM; clock: Clock; audit: AuditService }) {
  api.get(
    '/notifications',
    {
      access: { roles: ['admin', 'incident_manager', 'service_desk'] },
      summary: 'The notification outbox, newest first (filters: incident, status, recipient, channel)',
      query: z.object({
        incident: z.string().optional(),
        status: z.enum(['pending', 'sending', 'sent', 'dead']).optional(),
        recipient: z.string().optional(),
        channel: z.enum(['email', 'webhook']).optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
    },
    async ({ em, query }) => {
      const where: Record<string, unknown> = {};
      if (query.incident) {
        const incident = await em.findOne(IncidentSchema, { number: parseIncidentId(query.incident) ?? -1 });
        if (!incident) throw new NotFoundError(`no incident ${query.incident}`);
        where.incident = incident;
        // Security incidents stay hidden here as everywhere.
        if (incident.security) throw new NotFoundError(`no incident ${query.incident}`);
      }
      if (query.status) where.status = query.status;
      if (query.recipient) where.recipient = query.recipient.toLowerCase();
      if (query.channel) where.channel = query.channel;
      const rows = await em.find(NotificationSchema, where, { orderBy: { id: 'desc' }, limit: query.limit });
      return { items: rows.map(present) };
    },
  );

  api.post('/notifications/:id/retry', { access: { roles: ['admin'] }, summary: 'Send a dead-lettered notification again' }, async ({ em, params, actor }) => {
    const row = await em.findOne(NotificationSchema, { id: params.id });
    if (!row) throw new NotFoundError(`no notification ${params.id}`);
    if (row.status !== 'dead') throw new ConflictError(`only dead notifications can be retried (this one is ${row.status})`);
    row.status = 'pending';
    row.nextAttemptAt = deps.clock.now();
    row.attempts = 0;
    // A retry gets a fresh delivery window before it is given up again.
    row.retriedAt = deps.clock.now();
    deps.audit.record(em, { actor, action: 'notification.retried', entityType: 'notification', entityId: row.id, before: { status: 'dead' }, after: { status: 'pending' } });
    await em.flush();
    return present(row);
  });
}
