import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/**
 * Who holds which role on an incident's bridge (INC-11): commander, technical lead,
 * communications lead, scribe, account manager or a custom role. A hand-over releases the
 * previous holder; the history stays.
 */
export const IncidentRoleSchema = defineEntity({
  name: 'IncidentRole',
  properties: {
    id: p.integer().primary().autoincrement(),
    incident: () => p.manyToOne(IncidentSchema).deleteRule('cascade').index(),
    role: p.text(),
    personEmail: p.text(),
    personName: p.text(),
    assignedAt: p.datetime(),
    assignedBy: p.text(),
    releasedAt: p.datetime().nullable(),
  },
  indexes: [{ name: 'incident_role_current', expression: 'create unique index incident_role_current on incident_role (incident_id, role) where released_at is null' }],
});
export type IncidentRole = InferEntity<typeof IncidentRoleSchema>;

/** An action item on the bridge: who does what by when. Versioned: a stale edit is refused. */
export const IncidentTaskSchema = defineEntity({
  name: 'IncidentTask',
  properties: {
    id: p.integer().primary().autoincrement(),
    incident: () => p.manyToOne(IncidentSchema).deleteRule('cascade').index(),
    title: p.text(),
    ownerEmail: p.text().nullable(),
    // open | in_progress | done | cancelled
    status: p.text(),
    dueAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    createdBy: p.text(),
    updatedAt: p.datetime(),
    version: p.integer().version(),
  },
});
export type IncidentTask = InferEntity<typeof IncidentTaskSchema>;
