import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../audit/audit-service';
import { IncidentEventSchema, type Incident, type IncidentEvent } from './incident-entities';

export type Visibility = 'internal' | 'public';

/** Timeline entry types. Notes marked public feed the status page and client updates. */
export type IncidentEventType =
  | 'incident.created'
  | 'alert.attached'
  | 'alert.resolved'
  | 'alert.truncated'
  | 'alerts.cleared'
  | 'state.changed'
  | 'acknowledged'
  | 'assigned'
  | 'note'
  | 'severity.changed'
  | 'priority.changed'
  | 'urgency.changed'
  | 'category.changed'
  | 'security.flagged'
  | 'recurring.flagged'
  | 'routing'
  | 'sla'
  | 'escalation'
  | 'awaiting_client'
  | 'public.update'
  | 'communication'
  | 'client.feedback'
  | 'review'
  | 'major'
  | 'role'
  | 'task'
  | 'bridge'
  | 'correlation';

export interface TimelineEntry {
  type: IncidentEventType;
  message: string;
  visibility?: Visibility;
  data?: Record<string, unknown>;
}

/** Adds a timeline entry to the caller's unit of work (flushed with the change it describes). */
export function addTimelineEvent(em: EntityManager, incident: Incident, actor: Actor, entry: TimelineEntry, at: Date): IncidentEvent {
  return em.create(IncidentEventSchema, {
    incident,
    at,
    type: entry.type,
    visibility: entry.visibility ?? 'internal',
    actorType: actor.type,
    actorId: actor.id == null ? null : String(actor.id),
    actorName: actor.name,
    message: entry.message,
    data: entry.data ?? null,
  });
}
