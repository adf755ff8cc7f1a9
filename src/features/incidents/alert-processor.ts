import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { EventBus } from '../../platform/event-bus';
import type { Logger } from '../../platform/logger';
import type { Actor, AuditService } from '../audit/audit-service';
import { routeAlert, type RoutedAlert } from '../alert-intake/alert-routing';
import { AlertSchema, type Alert } from '../alert-intake/intake-entities';
import { IncidentSchema, type Incident } from './incident-entities';
import { formatIncidentId, isOpen, OPEN_STATES, priorityFor, type IncidentState, type Severity, type Source, type Urgency } from './incident-rules';
import { auditSnapshot, type IncidentService } from './incident-service';
import { addTimelineEvent, type TimelineEntry } from './incident-timeline';

const BATCH_SIZE = 500;
const URGENCY_RANK: Record<Urgency, number> = { low: 0, medium: 1, high: 2 };
const POLL_INTERVAL_MS = 1000;

interface Group {
  key: string;
  /** Set when the alerts already belong to an incident (a status change of a known alert). */
  incidentId?: number;
  dedupKey: string;
  alerts: { alert: Alert; route: RoutedAlert }[];
}

/**
 * Turns stored alerts into incident changes. Intake only commits alerts (fast, durable);
 * this loop claims unprocessed rows with FOR UPDATE SKIP LOCKED, so any number of daemons
 * can share the work without processing a row twice, and an advisory lock per alert group
 * makes two daemons agree on one incident per group.
 */
export function createAlertProcessor(deps: {
  orm: MikroORM;
  clock: Clock;
  configStore: ConfigStore;
  incidents: IncidentService;
  audit: AuditService;
  bus: EventBus;
  logger: Logger;
}) {
  const { orm, clock, configStore, incidents, audit, bus, logger } = deps;
  let running: Promise<void> | null = null;
  let wakeAgain = false;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  async function processBatch(): Promise<number> {
    const published: { incident: Incident; created: boolean }[] = [];
    const count = await orm.em.fork().transactional(async (em) => {
      const alerts = await em.find(AlertSchema, { needsProcessing: true }, { orderBy: { id: 'asc' }, limit: BATCH_SIZE, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE });
      if (alerts.length === 0) return 0;
      const config = configStore.current;
      const integrations = new Map(config.integrations.map((integration) => [integration.name, integration]));

      const groups = new Map<string, Group>();
      for (const alert of alerts) {
        const route = routeAlert(alert, config, integrations.get(alert.integration) ?? { name: alert.integration });
        const dedupKey = `${alert.integration}|${alert.groupKey}|${route.clientId ?? 'triage'}`;
        const incidentId = alert.incident?.id;
        const key = incidentId ? `incident:${incidentId}` : `group:${dedupKey}`;
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { key, incidentId, dedupKey, alerts: [] }));
        group.alerts.push({ alert, route });
      }

      // Fixed lock order, so two daemons never wait on each other's advisory locks.
      for (const group of [...groups.values()].sort((a, b) => a.key.localeCompare(b.key))) {
        const result = await applyGroup(em, group);
        if (result) published.push(result);
      }
      for (const alert of alerts) alert.needsProcessing = false;
      await em.flush();
      return alerts.length;
    });
    for (const { incident, created } of published) {
      bus.emit('incident.changed', { incidentId: incident.id, number: incident.number, clientId: incident.clientId ?? null, kind: created ? 'created' : 'updated', eventIds: [] });
    }
    return count;
  }

  async function applyGroup(em: EntityManager, group: Group): Promise<{ incident: Incident; created: boolean } | null> {
    const now = clock.now();
    const firing = group.alerts.filter(({ alert }) => alert.status === 'firing');
    const actor: Actor = { type: 'integration', name: group.alerts[0]!.alert.integration };

    let incident: Incident | null = null;
    if (group.incidentId) {
      incident = await em.findOne(IncidentSchema, { id: group.incidentId });
      // A known alert firing again on a closed incident starts over as a new group member.
      if (incident && !isOpen(incident.state as IncidentState) && incident.state !== 'resolved' && firing.length > 0) incident = null;
    }
    if (!incident) {
      await em.getConnection().execute('select pg_advisory_xact_lock(hashtext(?))', [group.dedupKey], 'run', em.getTransactionContext());
      incident = await em.findOne(IncidentSchema, { dedupKey: group.dedupKey, state: { $in: [...OPEN_STATES] } }, { orderBy: { id: 'desc' } });
      if (!incident && firing.length > 0) incident = await reopenable(em, group.dedupKey, now);
    }

    let created = false;
    const entries: TimelineEntry[] = [];
    const before = incident ? auditSnapshot(incident) : null;
    if (!incident) {
      if (firing.length === 0) return null; // resolved notice of an alert we never saw firing
      const worst = firing.reduce((a, b) => (b.route.severity < a.route.severity ? b : a)).route;
      const first = firing.reduce((a, b) => (b.alert.startsAt < a.alert.startsAt ? b : a)).alert;
      incident = await incidents.createInTransaction(
        em,
        {
          title: worst.title,
          description: first.annotations.description ?? '',
          clientId: worst.clientId,
          serviceIds: union(firing.flatMap(({ route }) => route.serviceIds)),
          ciIds: union(firing.flatMap(({ route }) => route.ciIds)),
          severity: worst.severity,
          urgency: worst.urgency,
          category: worst.category,
          source: sourceOf(first),
          reportedBy: first.annotations.reportedBy ?? null,
          reportedAt: first.startsAt.getTime() > 0 ? first.startsAt : now,
          dedupKey: group.dedupKey,
          alertname: worst.alertname,
          truncatedAlerts: Math.max(...group.alerts.map(({ alert }) => alert.truncatedAlerts)),
        },
        actor,
        worst.notes.length ? [{ type: 'routing', message: worst.notes.join('; ') }] : [],
      );
      created = true;
    } else if (incident.state === 'resolved' && firing.length > 0) {
      entries.push({ type: 'state.changed', message: `resolved -> investigating: ${firing[0]!.route.alertname} fired again`, data: { from: 'resolved', to: 'investigating', reason: 'alert fired again' } });
      incidents.applyState(incident, 'investigating', now);
      incident.alertsClearedAt = null;
    }

    for (const { alert } of group.alerts) alert.incident = incident;
    if (firing.length > 0) {
      entries.push({
        type: 'alert.attached',
        message: `${firing.length} alert${firing.length > 1 ? 's' : ''} firing: ${summarize(firing.map(({ route }) => route.alertname))}`,
        data: { alertIds: firing.map(({ alert }) => alert.id) },
      });
      if (!created) entries.push(...widen(incident, firing.map(({ route }) => route)));
    }
    const resolved = group.alerts.filter(({ alert }) => alert.status === 'resolved');
    if (resolved.length > 0) {
      entries.push({ type: 'alert.resolved', message: `${resolved.length} alert${resolved.length > 1 ? 's' : ''} resolved: ${summarize(resolved.map(({ route }) => route.alertname))}`, data: { alertIds: resolved.map(({ alert }) => alert.id) } });
    }
    const truncated = Math.max(0, ...group.alerts.map(({ alert }) => alert.truncatedAlerts));
    if (truncated > 0 && (created || truncated > incident.truncatedAlerts)) {
      incident.truncatedAlerts = truncated;
      entries.push({ type: 'alert.attached', message: `the sender truncated ${truncated} alerts of this group; not every alert is listed here`, data: { truncatedAlerts: truncated } });
    }

    await em.flush();
    if (isOpen(incident.state as IncidentState) && (await firingCount(em, incident)) === 0) entries.push(...alertsCleared(incident, now));

    for (const entry of entries) addTimelineEvent(em, incident, actor, entry, now);
    incident.updatedAt = now;
    if (!created && before) {
      const after = auditSnapshot(incident);
      if (JSON.stringify(before) !== JSON.stringify(after)) {
        audit.record(em, { actor, action: 'incident.updated_by_alerts', entityType: 'incident', entityId: formatIncidentId(incident.number), clientId: incident.clientId, before, after });
      }
    }
    return { incident, created };
  }

  /** A resolved incident of the same group whose alert fires again soon after is re-opened, not duplicated. */
  async function reopenable(em: EntityManager, dedupKey: string, now: Date): Promise<Incident | null> {
    const windowMs = parseDuration(configStore.current.incidents.reopenWindow) ?? 3_600_000;
    return em.findOne(IncidentSchema, { dedupKey, state: 'resolved', resolvedAt: { $gte: new Date(now.getTime() - windowMs) } }, { orderBy: { id: 'desc' } });
  }

  async function firingCount(em: EntityManager, incident: Incident): Promise<number> {
    return em.count(AlertSchema, { incident, status: 'firing' });
  }

  /** New alerts may widen the incident and raise its severity and urgency, never lower them. */
  function widen(incident: Incident, routes: RoutedAlert[]): TimelineEntry[] {
    const entries: TimelineEntry[] = [];
    incident.serviceIds = union([...incident.serviceIds, ...routes.flatMap((route) => route.serviceIds)]);
    incident.ciIds = union([...incident.ciIds, ...routes.flatMap((route) => route.ciIds)]);
    const worst = routes.reduce((a, b) => (b.severity < a.severity ? b : a));
    if (worst.severity < incident.severity) {
      const from = incident.severity;
      incident.severity = worst.severity;
      if (worst.severity === 1) incident.pirRequired = true;
      entries.push({ type: 'severity.changed', message: `severity raised ${from} -> ${worst.severity} by a new alert`, data: { from, to: worst.severity } });
    }
    const urgency = routes.map((route) => route.urgency).reduce((a, b) => (URGENCY_RANK[b] > URGENCY_RANK[a] ? b : a), incident.urgency as Urgency);
    if (urgency !== incident.urgency) {
      entries.push({ type: 'urgency.changed', message: `urgency raised ${incident.urgency} -> ${urgency} by a new alert`, data: { from: incident.urgency, to: urgency } });
      incident.urgency = urgency;
    }
    if (!incident.priorityOverridden) {
      const priority = priorityFor(incident.severity as Severity, incident.urgency as Urgency, configStore.current.priorityMatrix);
      if (priority !== incident.priority) {
        entries.push({ type: 'priority.changed', message: `priority ${incident.priority} -> ${priority} (severity x urgency)`, data: { from: incident.priority, to: priority } });
        incident.priority = priority;
      }
    }
    return entries;
  }

  /** Every alert cleared: resolve, or only flag it when the client's policy says so. */
  function alertsCleared(incident: Incident, now: Date): TimelineEntry[] {
    const config = configStore.current;
    const client = config.clients.find((candidate) => candidate.id === incident.clientId);
    const autoResolve = client?.incidents?.autoResolveOnClear ?? config.incidents.autoResolveOnClear;
    if (!autoResolve) {
      incident.alertsClearedAt = now;
      return [{ type: 'alerts.cleared', message: 'all alerts cleared; the incident stays open until staff resolve it (client policy)' }];
    }
    const from = incident.state;
    incidents.applyState(incident, 'resolved', now);
    incident.resolutionSummary = 'alerts cleared';
    incident.alertsClearedAt = now;
    return [{ type: 'state.changed', message: `${from} -> resolved: alerts cleared`, data: { from, to: 'resolved', reason: 'alerts cleared' } }];
  }

  async function runUntilIdle(): Promise<void> {
    do {
      wakeAgain = false;
      try {
        while ((await processBatch()) === BATCH_SIZE && !stopped);
      } catch (error) {
        logger.error({ err: error }, 'alert processing failed; retrying on the next poll');
        return;
      }
    } while (wakeAgain && !stopped);
  }

  return {
    /** Process now (after an intake commit). Coalesces: one run at a time per process. */
    wake(): void {
      if (stopped) return;
      if (running) {
        wakeAgain = true;
        return;
      }
      running = runUntilIdle().finally(() => {
        running = null;
      });
    },
    /** Polls as a safety net: alerts committed by another daemon, or after a failed run. */
    start(): void {
      stopped = false;
      timer = setInterval(() => this.wake(), POLL_INTERVAL_MS);
      timer.unref();
      this.wake();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
    /** Processes everything pending, for tests and benchmarks. */
    async drain(): Promise<void> {
      await running;
      while ((await processBatch()) > 0);
    },
  };
}

function union(values: string[]): string[] {
  return [...new Set(values)];
}

function summarize(names: string[]): string {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  const parts = [...counts].map(([name, count]) => (count > 1 ? `${name} x${count}` : name));
  return parts.length > 5 ? `${parts.slice(0, 5).join(', ')} and ${parts.length - 5} more` : parts.join(', ');
}

function sourceOf(alert: Alert): Source {
  const source = alert.annotations.source;
  return source === 'phone' || source === 'email' || source === 'portal' || source === 'staff' ? source : 'monitoring';
}
