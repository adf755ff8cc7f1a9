import type { Alert } from '../alert-intake/intake-entities';
import type { Incident, IncidentEvent } from './incident-entities';
import { allowedTransitions, formatIncidentId, type IncidentState } from './incident-rules';

/** Staff view of an incident. */
export function presentIncident(incident: Incident) {
  return {
    id: formatIncidentId(incident.number),
    number: incident.number,
    title: incident.title,
    description: incident.description,
    clientId: incident.clientId,
    serviceIds: incident.serviceIds,
    ciIds: incident.ciIds,
    severity: incident.severity,
    urgency: incident.urgency,
    priority: incident.priority,
    priorityOverridden: incident.priorityOverridden,
    category: incident.category,
    state: incident.state,
    allowedTransitions: allowedTransitions(incident.state as IncidentState),
    source: incident.source,
    reportedBy: incident.reportedBy,
    impact: incident.impact,
    alertname: incident.alertname,
    reportedAt: incident.reportedAt.toISOString(),
    createdAt: incident.createdAt.toISOString(),
    updatedAt: incident.updatedAt.toISOString(),
    acknowledgedAt: incident.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: incident.acknowledgedBy,
    assignedUserId: incident.assignedUserId,
    assignedTeam: incident.assignedTeam,
    firstAssignedAt: incident.firstAssignedAt?.toISOString() ?? null,
    mitigatedAt: incident.mitigatedAt?.toISOString() ?? null,
    resolvedAt: incident.resolvedAt?.toISOString() ?? null,
    resolutionSummary: incident.resolutionSummary,
    closedAt: incident.closedAt?.toISOString() ?? null,
    cancelledAt: incident.cancelledAt?.toISOString() ?? null,
    alertsClearedAt: incident.alertsClearedAt?.toISOString() ?? null,
    awaitingClient: incident.awaitingClient,
    security: incident.security,
    recurring: incident.recurring,
    pirRequired: incident.pirRequired,
    major: incident.major,
    majorDeclaredAt: incident.majorDeclaredAt?.toISOString() ?? null,
    conferenceUrl: incident.conferenceUrl,
    truncatedAlerts: incident.truncatedAlerts,
    version: incident.version,
  };
}

/**
 * What a client's own contact may see: no alert labels, CI or host names, assignees, staff
 * identities or internal notes. The title comes from the affected services (an alert's
 * summary often names hosts); public updates are the words staff chose for the client.
 */
export function presentIncidentForClient(incident: Incident, events: IncidentEvent[], serviceNames: (id: string) => string | undefined) {
  const services = incident.serviceIds.map(serviceNames).filter((name): name is string => !!name);
  return {
    id: formatIncidentId(incident.number),
    title: services.length ? `${services.join(', ')}: service disruption` : 'Service disruption',
    clientId: incident.clientId,
    serviceIds: incident.serviceIds,
    severity: incident.severity,
    priority: incident.priority,
    state: incident.state,
    reportedAt: incident.reportedAt.toISOString(),
    resolvedAt: incident.resolvedAt?.toISOString() ?? null,
    updates: events.filter((event) => event.visibility === 'public').map((event) => ({ id: event.id, at: event.at.toISOString(), message: event.message })),
  };
}

export function presentEvent(event: IncidentEvent) {
  return {
    id: event.id,
    at: event.at.toISOString(),
    type: event.type,
    visibility: event.visibility,
    actor: { type: event.actorType, id: event.actorId, name: event.actorName },
    message: event.message,
    data: event.data,
  };
}

export function presentAlert(alert: Alert) {
  return {
    id: alert.id,
    integration: alert.integration,
    fingerprint: alert.fingerprint,
    status: alert.status,
    startsAt: alert.startsAt.toISOString(),
    endsAt: alert.endsAt?.toISOString() ?? null,
    labels: alert.labels,
    annotations: alert.annotations,
    generatorUrl: alert.generatorUrl,
    truncatedAlerts: alert.truncatedAlerts,
  };
}
