import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** An incident (INC-02): what is affected, how bad, where it stands, who has it. */
export const IncidentSchema = defineEntity({
  name: 'Incident',
  properties: {
    id: p.integer().primary().autoincrement(),
    // Shown as INC-<number>; taken from the incident_number_seq sequence.
    number: p.integer().unique(),
    title: p.text(),
    description: p.text().default(''),
    // Null while nobody knows whose incident it is: the triage queue.
    clientId: p.text().nullable().index(),
    serviceIds: p.array().default('{}'),
    ciIds: p.array().default('{}'),
    severity: p.smallint(),
    urgency: p.text(),
    priority: p.text(),
    // Staff set the priority by hand: new alerts no longer recompute it.
    priorityOverridden: p.boolean().default(false),
    category: p.text(),
    state: p.text(),
    source: p.text(),
    // Reporter for client-reported incidents (INC-02 "source of report").
    reportedBy: p.text().nullable(),
    impact: p.text().default(''),
    // integration|groupKey|client: new alerts of the same group attach to the open incident.
    // Any length (group keys can be long); found through groupHash, never indexed itself.
    dedupKey: p.text().nullable(),
    // md5 of integration|groupKey: the index the alert processor finds a group's incidents by.
    groupHash: p.text().nullable().index(),
    alertname: p.text().nullable(),
    reportedAt: p.datetime().index(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    acknowledgedAt: p.datetime().nullable(),
    acknowledgedBy: p.text().nullable(),
    assignedUserId: p.integer().nullable(),
    assignedTeam: p.text().nullable(),
    firstAssignedAt: p.datetime().nullable(),
    mitigatedAt: p.datetime().nullable(),
    resolvedAt: p.datetime().nullable(),
    resolutionSummary: p.text().nullable(),
    closedAt: p.datetime().nullable(),
    cancelledAt: p.datetime().nullable(),
    // Set when every alert cleared but the client's policy is to flag, not resolve.
    alertsClearedAt: p.datetime().nullable(),
    // Sub-state: waiting for the client (SLA clocks pause meanwhile).
    awaitingClient: p.boolean().default(false),
    security: p.boolean().default(false),
    recurring: p.boolean().default(false),
    pirRequired: p.boolean().default(false),
    // Major incident management (INC-11): Sev1 or declared by staff; the bridge coordinates it.
    major: p.boolean().default(false),
    majorDeclaredAt: p.datetime().nullable(),
    // The conference call the responders join.
    conferenceUrl: p.text().nullable(),
    // Alerts expected during this in-progress change (its number): no paging, SLA clocks held
    // until its window ends (REL-01). A plain number, so incidents do not depend on changes.
    expectedDuringChange: p.integer().nullable(),
    truncatedAlerts: p.integer().default(0),
    // Optimistic locking: a stale write is refused instead of silently overwriting.
    version: p.integer().version(),
  },
});
export type Incident = InferEntity<typeof IncidentSchema>;

/** The incident timeline: every event with actor and time, internal or public. */
export const IncidentEventSchema = defineEntity({
  name: 'IncidentEvent',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    incident: () => p.manyToOne(IncidentSchema).deleteRule('cascade'),
    at: p.datetime(),
    type: p.text(),
    // internal (staff only) | public (may be shown to the client and on the status page)
    visibility: p.text(),
    actorType: p.text(),
    actorId: p.text().nullable(),
    actorName: p.text(),
    message: p.text(),
    data: p.json<Record<string, unknown>>().nullable(),
  },
  indexes: [{ properties: ['incident', 'id'] }],
});
export type IncidentEvent = InferEntity<typeof IncidentEventSchema>;
