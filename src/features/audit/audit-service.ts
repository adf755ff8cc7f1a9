import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../platform/clock';
import { AuditEventSchema, type AuditEvent } from './audit-event-entity';

/** Who did something. Requests from people carry the user; engines act as `system`; `client` is a client's contact answering an e-mailed link. */
export interface Actor {
  type: 'user' | 'integration' | 'system' | 'cli' | 'client';
  id?: string | number | null;
  name: string;
}

export const SYSTEM_ACTOR: Actor = { type: 'system', name: 'incidentd' };

export interface AuditEntry {
  actor: Actor;
  action: string;
  entityType: string;
  entityId: string | number;
  clientId?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  requestId?: string | null;
}

export interface AuditQuery {
  entityType?: string;
  entityId?: string;
  clientId?: string;
  since?: Date;
  until?: Date;
  /** Keyset pagination: only rows with an id greater than this. */
  afterId?: string;
  limit?: number;
}

export type AuditService = ReturnType<typeof createAuditService>;

export function createAuditService(deps: { clock: Clock }) {
  return {
    /**
     * Adds an audit row to the caller's unit of work. The caller flushes it in the same
     * transaction as the state change, so a change is never committed without its record.
     */
    record(em: EntityManager, entry: AuditEntry): AuditEvent {
      return em.create(AuditEventSchema, {
        at: deps.clock.now(),
        actorType: entry.actor.type,
        actorId: entry.actor.id == null ? null : String(entry.actor.id),
        actorName: entry.actor.name,
        action: entry.action,
        entityType: entry.entityType,
        entityId: String(entry.entityId),
        clientId: entry.clientId ?? null,
        before: entry.before ?? null,
        after: entry.after ?? null,
        requestId: entry.requestId ?? null,
      });
    },

    async find(em: EntityManager, query: AuditQuery): Promise<AuditEvent[]> {
      const where: Record<string, unknown> = {};
      if (query.entityType) where.entityType = query.entityType;
      if (query.entityId) where.entityId = query.entityId;
      if (query.clientId) where.clientId = query.clientId;
      if (query.since || query.until) {
        where.at = { ...(query.since ? { $gte: query.since } : {}), ...(query.until ? { $lt: query.until } : {}) };
      }
      if (query.afterId) where.id = { $gt: query.afterId };
      return em.find(AuditEventSchema, where, { orderBy: { id: 'asc' }, limit: Math.min(query.limit ?? 100, 1000) });
    },
  };
}

export function presentAuditEvent(event: AuditEvent) {
  return {
    id: event.id,
    at: event.at.toISOString(),
    actor: { type: event.actorType, id: event.actorId, name: event.actorName },
    action: event.action,
    entity: { type: event.entityType, id: event.entityId },
    clientId: event.clientId,
    before: event.before,
    after: event.after,
    requestId: event.requestId,
  };
}
