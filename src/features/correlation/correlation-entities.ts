import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { ChangeEventSchema, ChangeRequestSchema } from '../changes/change-entities';
import { IncidentSchema } from '../incidents/incident-entities';

/**
 * A change suspected of causing an incident (REL-01): an RFC or a deploy event, with the
 * score and the one-line reason it was ranked for, and what responders decided.
 */
export const SuspectChangeSchema = defineEntity({
  name: 'SuspectChange',
  properties: {
    id: p.integer().primary().autoincrement(),
    incident: () => p.manyToOne(IncidentSchema).deleteRule('cascade').index(),
    // CHG-2031 or DEP-<event id>: what the API and the bridge call it.
    label: p.text(),
    change: () => p.manyToOne(ChangeRequestSchema).nullable().deleteRule('cascade').index(),
    changeEvent: () => p.manyToOne(ChangeEventSchema).nullable().deleteRule('cascade').index(),
    score: p.double(),
    rank: p.integer(),
    // same_ci | upstream | downstream | same_service | same_client
    relation: p.text(),
    reason: p.text(),
    // suspect | confirmed | dismissed
    status: p.text(),
    computedAt: p.datetime(),
    decidedAt: p.datetime().nullable(),
    decidedBy: p.text().nullable(),
    decisionNote: p.text().nullable(),
  },
  uniques: [{ properties: ['incident', 'label'] }],
});
export type SuspectChange = InferEntity<typeof SuspectChangeSchema>;
