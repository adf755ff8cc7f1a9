import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/** Where an incident is in its escalation policy. */
export const EscalationSchema = defineEntity({
  name: 'Escalation',
  properties: {
    incident: () => p.oneToOne(IncidentSchema).primary().owner().deleteRule('cascade'),
    policyId: p.text(),
    stepIndex: p.integer(),
    round: p.integer().default(0),
    // active | stopped (acknowledged / resolved) | exhausted (no steps left)
    status: p.text(),
    startedAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});
export type Escalation = InferEntity<typeof EscalationSchema>;
