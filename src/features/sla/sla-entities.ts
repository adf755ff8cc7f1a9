import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/**
 * One SLA clock of an incident (INC-07): `response` (logged -> first acknowledgement or
 * assignment) or `resolution` (logged -> resolved), counted in 24x7 or business time.
 * While running, `consumedMs` holds the counted time up to `runningSince`; paused clocks
 * have no `runningSince`.
 */
export const SlaClockSchema = defineEntity({
  name: 'SlaClock',
  properties: {
    id: p.integer().primary().autoincrement(),
    incident: () => p.manyToOne(IncidentSchema).deleteRule('cascade'),
    // response | resolution
    kind: p.text(),
    targetMs: p.bigint('number'),
    // 24x7 | business
    calendar: p.text(),
    startedAt: p.datetime(),
    consumedMs: p.bigint('number').default(0),
    runningSince: p.datetime().nullable(),
    dueAt: p.datetime().nullable(),
    stoppedAt: p.datetime().nullable(),
    // met | breached (breached as soon as the due time passes while running)
    outcome: p.text().nullable(),
    breachedAt: p.datetime().nullable(),
    // Warning fractions already sent, e.g. ['0.75'].
    warned: p.array().default('{}'),
  },
  uniques: [{ properties: ['incident', 'kind'] }],
});
export type SlaClock = InferEntity<typeof SlaClockSchema>;
