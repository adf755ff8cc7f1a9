import type { ServiceConfig } from '../../config/config-schema';
import type { AuditEvent } from '../audit/audit-event-entity';
import { presentAuditEvent } from '../audit/audit-service';
import type { ChangeApproval, ChangeRequest } from './change-entities';
import { allowedTransitions, formatChangeId, type ChangeState } from './change-rules';

const iso = (at: Date | null | undefined) => at?.toISOString() ?? null;

/** Staff view of an RFC: the record, its risk with how it was computed, and where it may go next. */
export function presentChange(change: ChangeRequest) {
  return {
    id: formatChangeId(change.number),
    number: change.number,
    title: change.title,
    description: change.description,
    justification: change.justification,
    type: change.type,
    standardChange: change.standardChangeId,
    state: change.state,
    allowedTransitions: allowedTransitions(change.state as ChangeState),
    outcome: change.outcome,
    requester: change.requesterEmail,
    vendor: change.vendor,
    implementers: change.implementers,
    clients: change.clientIds,
    services: change.serviceIds,
    cis: change.ciIds,
    implementationPlan: change.implementationPlan,
    testPlan: change.testPlan,
    testResults: change.testResults,
    backoutPlan: change.backoutPlan,
    communicationPlan: change.communicationPlan,
    expectedImpact: change.expectedImpact,
    alertsDuringWindow: change.alertsDuringWindow,
    window: change.windowStart && change.windowEnd ? { start: iso(change.windowStart), end: iso(change.windowEnd) } : null,
    // The window the current approval covers; moving the change out of it asks the approvers again.
    approvedWindow: change.approvedWindowStart && change.approvedWindowEnd ? { start: iso(change.approvedWindowStart), end: iso(change.approvedWindowEnd) } : null,
    risk: change.riskLevel ? { level: change.riskLevel, score: change.riskScore, answers: change.riskAnswers, factors: change.riskFactors } : null,
    assessmentNotes: change.assessmentNotes,
    conditions: change.conditions,
    scheduleException: change.scheduleException,
    resubmissions: change.resubmissions,
    overrun: change.overrun,
    review: { required: change.pirRequired, summary: change.pirSummary, completedAt: iso(change.pirCompletedAt) },
    // The incident's internal id; its INC number is in the history note of the completion.
    incidentId: change.incident ? (change.incident as unknown as { id: number }).id : null,
    createdAt: iso(change.createdAt),
    updatedAt: iso(change.updatedAt),
    submittedAt: iso(change.submittedAt),
    approvedAt: iso(change.approvedAt),
    scheduledAt: iso(change.scheduledAt),
    actualStart: iso(change.actualStart),
    actualEnd: iso(change.actualEnd),
    completedAt: iso(change.completedAt),
    closedAt: iso(change.closedAt),
    cancelledAt: iso(change.cancelledAt),
    version: change.version,
  };
}

/**
 * The change's services that belong to one client, in the change's order; all of them when
 * no client is given (staff). A change may affect several clients: none sees another's services.
 */
export function clientServices(services: readonly ServiceConfig[], change: Pick<ChangeRequest, 'serviceIds'>, clientId: string | null | undefined): ServiceConfig[] {
  const byId = new Map(services.map((service) => [service.id, service]));
  return change.serviceIds.map((id) => byId.get(id)).filter((service): service is ServiceConfig => service !== undefined && (clientId == null || service.client === clientId));
}

/**
 * What a client's contact sees in the portal and the forward schedule: what, when, which of
 * their services, impact, state; no staff or CI details, no other client's services.
 */
export function presentChangeForClient(change: ChangeRequest, services: readonly ServiceConfig[], clientId: string | null | undefined) {
  return {
    id: formatChangeId(change.number),
    title: change.title,
    description: change.description,
    type: change.type,
    state: change.state,
    services: clientServices(services, change, clientId).map((service) => service.id),
    expectedImpact: change.expectedImpact,
    window: change.windowStart && change.windowEnd ? { start: iso(change.windowStart), end: iso(change.windowEnd) } : null,
    outcome: change.outcome,
  };
}

export function presentApproval(approval: ChangeApproval) {
  return {
    id: approval.id,
    round: approval.round,
    group: approval.approverGroup,
    reason: approval.reason,
    status: approval.status,
    requestedAt: iso(approval.requestedAt),
    decidedAt: iso(approval.decidedAt),
    decidedBy: approval.decidedBy,
    rationale: approval.rationale,
    conditions: approval.conditions,
    viaEmailLink: approval.linkUsedAt !== null,
  };
}

export function presentHistory(events: AuditEvent[]) {
  return events.map(presentAuditEvent);
}
