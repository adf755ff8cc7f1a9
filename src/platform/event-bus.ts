import { EventEmitter } from 'node:events';

/**
 * Domain events published after a transaction commits, for live views (socket.io) and
 * other in-process listeners. Typed so a listener cannot misspell an event.
 */
export interface DomainEvents {
  /** An incident was created or changed; `eventIds` are the new timeline entries. */
  'incident.changed': [{ incidentId: number; number: number; clientId: string | null; kind: 'created' | 'updated'; eventIds: string[] }];
  /** Sessions of this user ended or tokens were revoked (in any process): live connections check again. */
  'access.revoked': [{ userId: number }];
}

export class EventBus extends EventEmitter<DomainEvents> {}
