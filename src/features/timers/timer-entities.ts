import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/**
 * A durable timer: escalation steps, SLA warnings and breaches are rows with a due time,
 * never setTimeout alone. The engine fires each exactly once (see timer-engine.ts).
 */
export const TimerSchema = defineEntity({
  name: 'Timer',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    // escalation.step | sla.warning | sla.breach
    kind: p.text(),
    incident: () => p.manyToOne(IncidentSchema).nullable().deleteRule('cascade').index(),
    dueAt: p.datetime(),
    payload: p.json<Record<string, unknown>>(),
    // pending | fired | cancelled
    status: p.text(),
    createdAt: p.datetime(),
    firedAt: p.datetime().nullable(),
    // Which daemon fired it (host:pid), to prove exactly-once across replicas.
    firedBy: p.text().nullable(),
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
  },
  indexes: [{ name: 'timer_pending_due', expression: "create index timer_pending_due on timer (due_at) where status = 'pending'" }],
});
export type Timer = InferEntity<typeof TimerSchema>;

/** One row per scheduled run of a calendar job: the unique key makes one replica run it. */
export const JobRunSchema = defineEntity({
  name: 'JobRun',
  properties: {
    job: p.text().primary(),
    scheduledFor: p.datetime().primary(),
    startedAt: p.datetime(),
    runner: p.text(),
  },
});
export type JobRun = InferEntity<typeof JobRunSchema>;
