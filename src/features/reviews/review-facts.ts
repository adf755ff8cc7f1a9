import type { EntityManager } from '@mikro-orm/postgresql';
import type { IncidentdConfig } from '../../config/config-schema';
import { routeAlert } from '../alert-intake/alert-routing';
import { AlertSchema, type Alert } from '../alert-intake/intake-entities';
import { IncidentEventSchema, type Incident, type IncidentEvent } from '../incidents/incident-entities';
import { formatIncidentId } from '../incidents/incident-rules';
import { SuspectChangeSchema } from '../correlation/correlation-entities';
import { IncidentCommunicationSchema } from '../notifications/communication-entities';
import { SlaClockSchema } from '../sla/sla-entities';
import { formatMs } from '../sla/sla-service';

/** What a review starts from: facts drafted from the incident record, never typed in by hand. */
export interface ReviewFacts {
  incident: { id: string; title: string; severity: number; priority: string; category: string; recurring: boolean };
  impact: {
    clients: { id: string; name: string }[];
    /** Per affected service: from its first alert to the last one ending (or the incident's times when no alert names it). */
    services: { id: string; name: string; startedAt: string; endedAt: string | null; minutes: number }[];
    startedAt: string;
    mitigatedAt: string | null;
    restoredAt: string | null;
    /** Logged -> resolved (or until now while open), in minutes. */
    durationMinutes: number;
    /** Logged -> mitigated (service usable again), when there was a workaround. */
    degradedMinutes: number | null;
  };
  response: {
    minutesToAcknowledge: number | null;
    minutesToMitigate: number | null;
    minutesToResolve: number | null;
    sla: { kind: string; target: string; outcome: string | null; dueAt: string | null }[];
    escalations: number;
    clientUpdates: { sent: number; overdue: number; cadenceKept: boolean | null };
  };
  /** Changes suspected or confirmed as the cause (change correlation), with the reason each was ranked. */
  changes: { suspected: ReviewChange[]; confirmed: ReviewChange[]; dismissed: ReviewChange[] };
  timeline: { at: string; type: string; visibility: string; actor: string; message: string }[];
}

interface ReviewChange {
  changeId: string;
  score: number;
  reason: string;
  decidedBy: string | null;
  note: string | null;
}

const minutesBetween = (from: Date, to: Date | null | undefined) => (to ? Math.round((to.getTime() - from.getTime()) / 60_000) : null);

/** Builds the facts of a review from the incident's record as it is now. */
export async function draftReviewFacts(em: EntityManager, incident: Incident, config: IncidentdConfig, now: Date): Promise<ReviewFacts> {
  // One after the other: inside a transaction they share one connection.
  const events = await em.find(IncidentEventSchema, { incident }, { orderBy: { id: 'asc' } });
  const clocks = await em.find(SlaClockSchema, { incident }, { orderBy: { id: 'asc' } });
  const communication = await em.findOne(IncidentCommunicationSchema, { incident });
  const suspects = await em.find(SuspectChangeSchema, { incident }, { orderBy: { rank: 'asc' } });
  const alerts = await em.find(AlertSchema, { incident }, { orderBy: { startsAt: 'asc' }, limit: 5000 });
  const changesWith = (status: string): ReviewChange[] =>
    suspects.filter((row) => row.status === status).map((row) => ({ changeId: row.label, score: Number(row.score), reason: row.reason, decidedBy: row.decidedBy ?? null, note: row.decisionNote ?? null }));
  const client = config.clients.find((candidate) => candidate.id === incident.clientId);
  const overdue = events.filter((event) => event.type === 'communication' && event.data?.reminder === 'overdue').length;
  const end = incident.resolvedAt ?? now;
  return {
    incident: { id: formatIncidentId(incident.number), title: incident.title, severity: incident.severity, priority: incident.priority, category: incident.category, recurring: incident.recurring },
    impact: {
      clients: client ? [{ id: client.id, name: client.name }] : [],
      services: incident.serviceIds.map((id) => serviceImpact(id, incident, alerts, config, now)),
      startedAt: incident.reportedAt.toISOString(),
      mitigatedAt: incident.mitigatedAt?.toISOString() ?? null,
      restoredAt: incident.resolvedAt?.toISOString() ?? null,
      durationMinutes: minutesBetween(incident.reportedAt, end)!,
      degradedMinutes: minutesBetween(incident.reportedAt, incident.mitigatedAt),
    },
    response: {
      minutesToAcknowledge: minutesBetween(incident.reportedAt, incident.acknowledgedAt),
      minutesToMitigate: minutesBetween(incident.reportedAt, incident.mitigatedAt),
      minutesToResolve: minutesBetween(incident.reportedAt, incident.resolvedAt),
      sla: clocks.map((clock) => ({ kind: clock.kind, target: formatMs(clock.targetMs), outcome: clock.outcome ?? null, dueAt: clock.dueAt?.toISOString() ?? null })),
      escalations: events.filter((event) => event.type === 'escalation' && !event.message.startsWith('escalation stopped')).length,
      clientUpdates: { sent: communication?.updatesSent ?? 0, overdue, cadenceKept: communication ? overdue === 0 : null },
    },
    changes: { suspected: changesWith('suspect'), confirmed: changesWith('confirmed'), dismissed: changesWith('dismissed') },
    timeline: events.map(presentForReview),
  };
}

/** When a service was affected: its alerts (routed again from their labels), else the incident's own times. */
function serviceImpact(serviceId: string, incident: Incident, alerts: Alert[], config: IncidentdConfig, now: Date) {
  const integrations = new Map(config.integrations.map((integration) => [integration.name, integration]));
  const own = alerts.filter((alert) => routeAlert(alert, config, { name: alert.integration, client: integrations.get(alert.integration)?.client }).serviceIds.includes(serviceId));
  const start = own.length ? own[0]!.startsAt : incident.reportedAt;
  const stillFiring = own.some((alert) => alert.status === 'firing');
  const end = own.length ? (stillFiring ? null : new Date(Math.max(...own.map((alert) => (alert.endsAt ?? alert.startsAt).getTime())))) : (incident.resolvedAt ?? null);
  return {
    id: serviceId,
    name: config.services.find((service) => service.id === serviceId)?.name ?? serviceId,
    startedAt: start.toISOString(),
    endedAt: end?.toISOString() ?? null,
    minutes: minutesBetween(start, end ?? now)!,
  };
}

function presentForReview(event: IncidentEvent) {
  return { at: event.at.toISOString(), type: event.type, visibility: event.visibility, actor: event.actorName, message: event.message };
}
