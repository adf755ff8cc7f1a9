import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/** A request for change (CHG-01, CHG-03): what, why, where, how, when, how risky, and how it went. */
export const ChangeRequestSchema = defineEntity({
  name: 'ChangeRequest',
  properties: {
    id: p.integer().primary().autoincrement(),
    // Shown as CHG-<number>; taken from the change_number_seq sequence.
    number: p.integer().unique(),
    title: p.text(),
    description: p.text().default(''),
    justification: p.text().default(''),
    // standard | normal | emergency
    type: p.text(),
    // Catalog entry a standard change was raised from (kept when it falls back to normal).
    standardChangeId: p.text().nullable(),
    state: p.text(),
    // successful | successful_with_issues | failed | backed_out
    outcome: p.text().nullable(),
    requesterId: p.integer(),
    requesterEmail: p.text(),
    // A third party doing the work (ACC-03): the same process applies.
    vendor: p.text().nullable(),
    // E-mails of the users allowed to carry it out (IMP-01).
    implementers: p.array().default('{}'),
    clientIds: p.array().default('{}'),
    serviceIds: p.array().default('{}'),
    ciIds: p.array().default('{}'),
    implementationPlan: p.text().default(''),
    testPlan: p.text().default(''),
    // Results from a non-production environment (IMP-02).
    testResults: p.text().default(''),
    backoutPlan: p.text().default(''),
    communicationPlan: p.text().default(''),
    expectedImpact: p.text().default(''),
    // Alerts on the change's CIs while it is in progress: hold (expected, nobody paged, SLA
    // waiting until the window ends) or page (handled as usual).
    alertsDuringWindow: p.text().default('hold'),
    windowStart: p.datetime().nullable(),
    windowEnd: p.datetime().nullable(),
    // The window the current approval covers (IMP-01): moving the change out of it asks the
    // approvers again. Null while not approved, and for an emergency approved without a window.
    approvedWindowStart: p.datetime().nullable(),
    approvedWindowEnd: p.datetime().nullable(),
    riskAnswers: p.json<Record<string, unknown>>().nullable(),
    riskScore: p.integer().nullable(),
    riskLevel: p.text().nullable(),
    // How the score was computed: [{factor, value, points}].
    riskFactors: p.json<unknown[]>().nullable(),
    assessmentNotes: p.text().nullable(),
    // Conditions attached by approvers ("approve with conditions").
    conditions: p.text().nullable(),
    // CHG-12: violations accepted by the change manager, with the risk acceptance.
    scheduleException: p.json<Record<string, unknown>>().nullable(),
    // Re-submissions after a rejection or deferral (rework rate, REL-03).
    resubmissions: p.integer().default(0),
    // Approval round: a re-submitted change collects a fresh set of approvals.
    approvalRound: p.integer().default(0),
    implementationNotes: p.text().nullable(),
    overrun: p.boolean().default(false),
    pirRequired: p.boolean().default(false),
    pirSummary: p.text().nullable(),
    pirCompletedAt: p.datetime().nullable(),
    // The incident opened when the change failed (IMP-05).
    incident: () => p.manyToOne(IncidentSchema).nullable().deleteRule('set null').index(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    submittedAt: p.datetime().nullable(),
    approvedAt: p.datetime().nullable(),
    scheduledAt: p.datetime().nullable(),
    actualStart: p.datetime().nullable(),
    actualEnd: p.datetime().nullable(),
    completedAt: p.datetime().nullable(),
    closedAt: p.datetime().nullable(),
    cancelledAt: p.datetime().nullable(),
    version: p.integer().version(),
  },
  indexes: [{ properties: ['state', 'windowStart'] }],
});
export type ChangeRequest = InferEntity<typeof ChangeRequestSchema>;

/**
 * One required approval of one round (CHG-06): a group (change_manager, cab, team:<id>,
 * client:<id>, ecab, catalog) and, once decided, who decided what and why.
 */
export const ChangeApprovalSchema = defineEntity({
  name: 'ChangeApproval',
  properties: {
    id: p.integer().primary().autoincrement(),
    change: () => p.manyToOne(ChangeRequestSchema).deleteRule('cascade').index(),
    round: p.integer(),
    approverGroup: p.text(),
    // The rule(s) that required it, for "why do I need this approval?".
    reason: p.text(),
    // pending | approved | approved_with_conditions | rejected | deferred | superseded
    // | withdrawn (approved, but the change then moved out of the approved window)
    status: p.text(),
    requestedAt: p.datetime(),
    decidedAt: p.datetime().nullable(),
    decidedBy: p.text().nullable(),
    rationale: p.text().nullable(),
    conditions: p.text().nullable(),
    // A client approver's e-mailed link, once used (one-time use).
    linkUsedAt: p.datetime().nullable(),
  },
});
export type ChangeApproval = InferEntity<typeof ChangeApprovalSchema>;

/** A deploy event from CI/CD (REL-04); unauthorized when it names no approved RFC (REL-02). */
export const ChangeEventSchema = defineEntity({
  name: 'ChangeEvent',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    integration: p.text(),
    // The sender's own id for the event: redelivery of the same id is not a new event.
    externalId: p.text().nullable(),
    receivedAt: p.datetime(),
    occurredAt: p.datetime().index(),
    summary: p.text(),
    source: p.text(),
    clientId: p.text().nullable(),
    serviceId: p.text().nullable(),
    ciId: p.text().nullable(),
    links: p.json<string[]>().nullable(),
    change: () => p.manyToOne(ChangeRequestSchema).nullable().deleteRule('set null').index(),
    unauthorized: p.boolean().default(false),
    unauthorizedReason: p.text().nullable(),
  },
  uniques: [{ properties: ['integration', 'externalId'] }],
  // Unauthorized changes are few among many deploys; the report and the gauge read only those.
  indexes: [{ name: 'change_event_unauthorized', expression: 'create index change_event_unauthorized on change_event (occurred_at) where unauthorized' }],
});
export type ChangeEvent = InferEntity<typeof ChangeEventSchema>;

/**
 * A client's post-implementation validation of a change (IMP-03): one per approver contact,
 * answered from a signed, one-time link.
 */
export const ChangeValidationSchema = defineEntity({
  name: 'ChangeValidation',
  properties: {
    id: p.integer().primary().autoincrement(),
    change: () => p.manyToOne(ChangeRequestSchema).deleteRule('cascade').index(),
    clientId: p.text(),
    contactEmail: p.text(),
    contactName: p.text(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
    answeredAt: p.datetime().nullable(),
    // works | problem
    outcome: p.text().nullable(),
    note: p.text().nullable(),
  },
});
export type ChangeValidation = InferEntity<typeof ChangeValidationSchema>;

/** A CAB meeting (CHG-09) with its agenda of pending significant changes. */
export const CabMeetingSchema = defineEntity({
  name: 'CabMeeting',
  properties: {
    id: p.integer().primary().autoincrement(),
    title: p.text(),
    scheduledFor: p.datetime(),
    createdBy: p.text(),
    createdAt: p.datetime(),
    notes: p.text().default(''),
    // E-mails of those present, for the minutes; members who decide an item are added.
    attendees: p.array().default('{}'),
  },
});
export type CabMeeting = InferEntity<typeof CabMeetingSchema>;

export const CabAgendaItemSchema = defineEntity({
  name: 'CabAgendaItem',
  properties: {
    id: p.integer().primary().autoincrement(),
    meeting: () => p.manyToOne(CabMeetingSchema).deleteRule('cascade').index(),
    change: () => p.manyToOne(ChangeRequestSchema).deleteRule('cascade').index(),
    position: p.integer(),
    // approve | approve_with_conditions | reject | defer, once discussed
    decision: p.text().nullable(),
    rationale: p.text().nullable(),
    conditions: p.text().nullable(),
    decidedBy: p.text().nullable(),
    decidedAt: p.datetime().nullable(),
  },
});
export type CabAgendaItem = InferEntity<typeof CabAgendaItemSchema>;
