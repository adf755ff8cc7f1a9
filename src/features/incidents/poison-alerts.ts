import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { EventBus } from '../../platform/event-bus';
import type { Logger } from '../../platform/logger';
import { SYSTEM_ACTOR } from '../audit/audit-service';
import { routeAlert, type RoutedAlert } from '../alert-intake/alert-routing';
import { groupHashOf, parkAlerts, type PendingAlert } from './alert-claims';
import { IncidentSchema, type Incident } from './incident-entities';
import { OPEN_STATES, type Severity } from './incident-rules';
import type { IncidentService } from './incident-service';
import { addTimelineEvent } from './incident-timeline';

/** Failed claims before an alert is parked as poison. */
export const MAX_ATTEMPTS = 5;

export type PoisonAlerts = ReturnType<typeof createPoisonAlerts>;

/**
 * Alerts the processor cannot process (a bug, data PostgreSQL refuses, a failing observer):
 * after MAX_ATTEMPTS they leave the queue ("parked"), so they neither block other alerts nor
 * fail every few seconds forever. A 202 promised they would reach a person, so each parked
 * group still opens a triage incident (staff only, client unknown) that says why and pages
 * like any other; admins list parked alerts (GET /api/v1/poison-alerts) and send them
 * through again once the cause is fixed.
 */
export function createPoisonAlerts(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; incidents: IncidentService; bus: EventBus; logger: Logger; registry: Registry }) {
  const { orm, clock, configStore, incidents, bus, logger } = deps;
  const parkedTotal = new Counter({
    name: 'incidentd_poison_alerts_total',
    help: `Alerts parked as poison after ${MAX_ATTEMPTS} failed processing attempts, by integration`,
    labelNames: ['integration'] as const,
    registers: [deps.registry],
  });
  new Gauge({
    name: 'incidentd_poison_alerts_parked',
    help: 'Alerts parked as poison right now (GET /api/v1/poison-alerts lists them)',
    registers: [deps.registry],
    async collect() {
      const [row] = await orm.em.fork().getConnection().execute<{ count: string }[]>('select count(*) from alert where parked_at is not null');
      this.set(Number(row!.count));
    },
  });

  /** What the triage incident says: the alert, where it would have gone, and the error. */
  function triageText(alerts: PendingAlert[], route: RoutedAlert | null, reason: string) {
    const first = alerts[0]!;
    const alertname = first.labels.alertname ?? 'alert';
    const count = alerts.length === 1 ? 'an alert' : `${alerts.length} alerts`;
    return {
      title: `Alert processing failed: ${alertname}`,
      description: [
        `incidentd accepted ${count} but could not turn ${alerts.length === 1 ? 'it' : 'them'} into an incident: processing failed ${Math.max(...alerts.map((alert) => alert.attempts))} times.`,
        `Integration: ${first.integration}`,
        `Alert group: ${shorten(first.groupKey, 300)}`,
        `Alert: ${alertname}${route?.clientId ? ` (routed to client ${route.clientId})` : ''}`,
        `Last error: ${reason}`,
        'The alerts are parked: GET /api/v1/poison-alerts lists them; once the cause is fixed, POST /api/v1/poison-alerts/{id}/retry sends one through again.',
      ].join('\n'),
    };
  }

  /**
   * Parks the claimed alerts of one group with the reason, and opens (or adds to) the group's
   * triage incident, in one transaction. If even that fails, the alerts are parked without an
   * incident (logged as an error, and counted), so the queue moves on in any case.
   */
  async function park(claimant: string, alerts: PendingAlert[], reason: string): Promise<void> {
    const first = alerts[0]!;
    const ids = alerts.map((alert) => alert.id);
    const error = shorten(reason, 500);
    const now = clock.now();
    const config = configStore.current;
    let route: RoutedAlert | null = null;
    try {
      route = routeAlert({ labels: first.labels, annotations: {} }, config, config.integrations.find((candidate) => candidate.name === first.integration) ?? { name: first.integration });
    } catch {
      // Routing may be what fails; the triage incident then takes the default severity.
    }
    const severity: Severity = route?.severity ?? config.routing.defaultSeverity;
    // Its own alert group, so the group's next parked alerts join it instead of opening more.
    const dedupKey = `poison|${first.integration}|${first.groupKey}|triage`;
    const groupHash = groupHashOf(`poison|${first.integration}`, first.groupKey);
    let incident: Incident | null = null;
    let created = false;
    try {
      incident = await orm.em.fork().transactional(async (em) => {
        let target = await em.findOne(IncidentSchema, { groupHash, dedupKey, state: { $in: [...OPEN_STATES] } }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (target) {
          addTimelineEvent(em, target, SYSTEM_ACTOR, { type: 'alert.attached', message: `${ids.length} more alert${ids.length > 1 ? 's' : ''} of this group parked: ${error}`, data: { alertIds: ids, parked: true } }, now);
          target.updatedAt = now;
        } else {
          const text = triageText(alerts, route, error);
          target = await incidents.createInTransaction(
            em,
            {
              ...text,
              clientId: null,
              serviceIds: [],
              ciIds: [],
              severity,
              urgency: route?.urgency ?? config.routing.urgencyBySeverity[`sev${severity}`],
              category: 'other',
              source: 'monitoring',
              reportedAt: now,
              dedupKey,
              groupHash,
              alertname: first.labels.alertname ?? null,
            },
            SYSTEM_ACTOR,
            [{ type: 'alert.attached', message: `${ids.length} alert${ids.length > 1 ? 's' : ''} parked as poison: ${error}`, data: { alertIds: ids, parked: true } }],
          );
          created = true;
        }
        await em.flush();
        await parkAlerts(em, claimant, ids, { at: now, error, incidentId: target.id });
        return target;
      });
    } catch (incidentError) {
      logger.error({ err: incidentError, integration: first.integration, alerts: ids.length }, 'could not open the triage incident for poison alerts; parking them without one');
      await orm.em.fork().transactional((em) => parkAlerts(em, claimant, ids, { at: now, error, incidentId: null }));
    }
    parkedTotal.inc({ integration: first.integration }, ids.length);
    logger.error({ integration: first.integration, groupKey: shorten(first.groupKey, 300), alertIds: ids, error, incident: incident?.number }, 'alerts parked as poison');
    if (incident) bus.emit('incident.changed', { incidentId: incident.id, number: incident.number, clientId: null, kind: created ? 'created' : 'updated', eventIds: [] });
  }

  return { park };
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
