import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { EventBus } from '../../platform/event-bus';
import type { Logger } from '../../platform/logger';
import type { Actor, AuditService } from '../audit/audit-service';
import { alertTitle, routeAlert, type RoutedAlert } from '../alert-intake/alert-routing';
import { IncidentSchema, type Incident } from './incident-entities';
import { formatIncidentId, isOpen, OPEN_STATES, priorityFor, type IncidentState, type Severity, type Source, type Urgency } from './incident-rules';
import { auditSnapshot, type IncidentService } from './incident-service';
import { addTimelineEvent, type TimelineEntry } from './incident-timeline';

// Larger batches touch each alert group's incident once for more alerts (storms).
const BATCH_SIZE = 2000;
const URGENCY_RANK: Record<Urgency, number> = { low: 0, medium: 1, high: 2 };
const POLL_INTERVAL_MS = 1000;

/**
 * An alert row as the processor needs it. Read and updated with plain SQL: hydrating
 * hundreds of entities per batch (and diffing their JSON labels) cost more CPU than the
 * whole intake path.
 */
interface PendingAlert {
  id: string;
  integration: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  startsAt: Date;
  labels: Record<string, string>;
  truncatedAlerts: number;
  incidentId: number | null;
}

const CLAIM_SQL = `
  select id, integration, group_key as "groupKey", status, starts_at as "startsAt", labels,
         truncated_alerts as "truncatedAlerts", incident_id as "incidentId"
  from alert where needs_processing order by id limit ? for update skip locked`;

/** What one alert group did to one incident in this batch. */
interface Change {
  incident: Incident;
  created: boolean;
  /** Audit snapshot before the change (null for a new incident). */
  before: ReturnType<typeof auditSnapshot> | null;
  actor: Actor;
  alertIds: string[];
  hadResolved: boolean;
}

interface Group {
  key: string;
  /** Set when the alerts already belong to an incident (a status change of a known alert). */
  incidentId?: number;
  dedupKey: string;
  alerts: { alert: PendingAlert; route: RoutedAlert }[];
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
  /** True while webhooks are being received: processing then yields half the CPU to intake. */
  intakeBusy?: () => boolean;
}) {
  const { orm, clock, configStore, incidents, audit, bus, logger } = deps;
  let running: Promise<void> | null = null;
  let wakeAgain = false;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  async function processBatch(): Promise<number> {
    const published: { incident: Incident; created: boolean }[] = [];
    const count = await orm.em.fork().transactional(async (em) => {
      const connection = em.getConnection();
      const tx = em.getTransactionContext();
      const rows = await connection.execute<PendingAlert[]>(CLAIM_SQL, [BATCH_SIZE], 'all', tx);
      if (rows.length === 0) return 0;
      // The driver hands timestamps over as text.
      const alerts = rows.map((row) => ({ ...row, id: String(row.id), startsAt: new Date(row.startsAt) }));
      const config = configStore.current;
      const integrations = new Map(config.integrations.map((integration) => [integration.name, integration]));

      const groups = new Map<string, Group>();
      for (const alert of alerts) {
        // Annotations only matter for a new incident's title and text; they are read then.
        const route = routeAlert({ labels: alert.labels, annotations: {} }, config, integrations.get(alert.integration) ?? { name: alert.integration });
        const dedupKey = `${alert.integration}|${alert.groupKey}|${route.clientId ?? 'triage'}`;
        const incidentId = alert.incidentId ?? undefined;
        const key = incidentId ? `incident:${incidentId}` : `group:${dedupKey}`;
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { key, incidentId, dedupKey, alerts: [] }));
        group.alerts.push({ alert, route });
      }
      // Fixed order, so two daemons take advisory locks in the same order and never deadlock.
      const ordered = [...groups.values()].sort((a, b) => a.key.localeCompare(b.key));

      // The incidents these groups already have, in two queries for the whole batch.
      const linkedIds = ordered.flatMap((group) => (group.incidentId ? [group.incidentId] : []));
      const linked = new Map((linkedIds.length ? await em.find(IncidentSchema, { id: { $in: linkedIds } }) : []).map((incident) => [incident.id, incident]));
      const openByKey = new Map<string, Incident>();
      const keys = ordered.filter((group) => !group.incidentId).map((group) => group.dedupKey);
      if (keys.length) {
        for (const incident of await em.find(IncidentSchema, { dedupKey: { $in: keys }, state: { $in: [...OPEN_STATES] } }, { orderBy: { id: 'asc' } })) openByKey.set(incident.dedupKey!, incident);
      }

      const changes: Change[] = [];
      for (const group of ordered) {
        const change = await applyGroup(em, group, linked, openByKey);
        if (change) changes.push(change);
      }
      await em.flush();

      // Link every alert to its incident in one statement; the rest (a "resolved" for an
      // alert never seen firing) are simply done.
      const links = changes.flatMap((change) => change.alertIds.map((id) => [id, change.incident.id] as const));
      if (links.length) {
        await connection.execute(
          `update alert as a set incident_id = v.incident_id, needs_processing = false from (values ${links.map(() => '(?::bigint, ?::int)').join(',')}) as v(id, incident_id) where a.id = v.id`,
          links.flat(),
          'run',
          tx,
        );
      }
      await connection.execute(`update alert set needs_processing = false where needs_processing and id in (${alerts.map(() => '?').join(',')})`, alerts.map((a) => a.id), 'run', tx);

      // Incidents that got "resolved" alerts may have none firing any more.
      const maybeCleared = changes.filter((change) => change.hadResolved && isOpen(change.incident.state as IncidentState));
      if (maybeCleared.length) {
        const firing = await connection.execute<{ incident_id: number; firing: string }[]>(
          `select incident_id, count(*) filter (where status = 'firing') as firing from alert where incident_id in (${maybeCleared.map(() => '?').join(',')}) group by incident_id`,
          maybeCleared.map((change) => change.incident.id),
          'all',
          tx,
        );
        const firingById = new Map(firing.map((row) => [Number(row.incident_id), Number(row.firing)]));
        for (const change of maybeCleared) {
          if ((firingById.get(change.incident.id) ?? 0) > 0) continue;
          for (const entry of await alertsCleared(em, change.incident, clock.now())) addTimelineEvent(em, change.incident, change.actor, entry, clock.now());
        }
      }

      for (const change of changes) {
        if (change.created || !change.before) continue;
        const after = auditSnapshot(change.incident);
        if (JSON.stringify(change.before) !== JSON.stringify(after)) {
          audit.record(em, { actor: change.actor, action: 'incident.updated_by_alerts', entityType: 'incident', entityId: formatIncidentId(change.incident.number), clientId: change.incident.clientId, before: change.before, after });
        }
      }
      await em.flush();
      for (const change of changes) published.push({ incident: change.incident, created: change.created });
      return alerts.length;
    });
    for (const { incident, created } of published) {
      bus.emit('incident.changed', { incidentId: incident.id, number: incident.number, clientId: incident.clientId ?? null, kind: created ? 'created' : 'updated', eventIds: [] });
    }
    return count;
  }

  /** Finds (or creates, or re-opens) the group's incident and applies its alerts in memory. */
  async function applyGroup(em: EntityManager, group: Group, linked: Map<number, Incident>, openByKey: Map<string, Incident>): Promise<Change | null> {
    const now = clock.now();
    const firing = group.alerts.filter(({ alert }) => alert.status === 'firing');
    const resolved = group.alerts.filter(({ alert }) => alert.status === 'resolved');
    const actor: Actor = { type: 'integration', name: group.alerts[0]!.alert.integration };
    const alertIds = group.alerts.map(({ alert }) => alert.id);

    let incident: Incident | null = null;
    if (group.incidentId) {
      incident = linked.get(group.incidentId) ?? null;
      // A known alert firing again on a closed incident starts over as a new group member.
      if (incident && !isOpen(incident.state as IncidentState) && incident.state !== 'resolved' && firing.length > 0) incident = null;
    }
    incident ??= openByKey.get(group.dedupKey) ?? null;
    if (!incident && firing.length > 0) {
      // Only creating needs the lock: another daemon may be creating this group's incident now.
      await em.getConnection().execute('select pg_advisory_xact_lock(hashtext(?))', [group.dedupKey], 'run', em.getTransactionContext());
      incident =
        (await em.findOne(IncidentSchema, { dedupKey: group.dedupKey, state: { $in: [...OPEN_STATES] } }, { orderBy: { id: 'desc' } })) ?? (await reopenable(em, group.dedupKey, now));
    }

    const entries: TimelineEntry[] = [];
    if (!incident) {
      if (firing.length === 0) return null; // only "resolved" notices of alerts we never saw firing
      const worstAlert = firing.reduce((a, b) => (b.route.severity < a.route.severity ? b : a));
      const first = firing.reduce((a, b) => (b.alert.startsAt < a.alert.startsAt ? b : a)).alert;
      const [worstAnnotations, firstAnnotations] = await annotationsOf(em, [worstAlert.alert.id, first.id]);
      const worst = { ...worstAlert.route, title: alertTitle(worstAnnotations!) ?? worstAlert.route.title };
      const truncated = Math.max(...group.alerts.map(({ alert }) => alert.truncatedAlerts));
      const created = await incidents.createInTransaction(
        em,
        {
          title: worst.title,
          description: firstAnnotations!.description ?? '',
          clientId: worst.clientId,
          serviceIds: union(firing.flatMap(({ route }) => route.serviceIds)),
          ciIds: union(firing.flatMap(({ route }) => route.ciIds)),
          severity: worst.severity,
          urgency: worst.urgency,
          category: worst.category,
          source: sourceOf(firstAnnotations!),
          reportedBy: firstAnnotations!.reportedBy ?? null,
          reportedAt: first.startsAt.getTime() > 0 ? first.startsAt : now,
          dedupKey: group.dedupKey,
          alertname: worst.alertname,
          truncatedAlerts: truncated,
        },
        actor,
        worst.notes.length ? [{ type: 'routing', message: worst.notes.join('; ') }] : [],
      );
      openByKey.set(group.dedupKey, created);
      entries.push(attachedEntry(firing));
      if (truncated > 0) entries.push(truncatedEntry(truncated));
      for (const entry of entries) addTimelineEvent(em, created, actor, entry, now);
      return { incident: created, created: true, before: null, actor, alertIds, hadResolved: resolved.length > 0 };
    }

    const before = auditSnapshot(incident);
    if (incident.state === 'resolved' && firing.length > 0) {
      entries.push({ type: 'state.changed', message: `resolved -> investigating: ${firing[0]!.route.alertname} fired again`, data: { from: 'resolved', to: 'investigating', reason: 'alert fired again' } });
      await incidents.changeState(em, incident, 'investigating', now);
      incident.alertsClearedAt = null;
    }
    if (firing.length > 0) {
      entries.push(attachedEntry(firing));
      entries.push(...widen(incident, firing.map(({ route }) => route)));
    }
    if (resolved.length > 0) {
      entries.push({ type: 'alert.resolved', message: `${resolved.length} alert${resolved.length > 1 ? 's' : ''} resolved: ${summarize(resolved.map(({ route }) => route.alertname))}`, data: { alertIds: resolved.map(({ alert }) => alert.id) } });
    }
    const truncated = Math.max(0, ...group.alerts.map(({ alert }) => alert.truncatedAlerts));
    if (truncated > incident.truncatedAlerts) {
      incident.truncatedAlerts = truncated;
      entries.push(truncatedEntry(truncated));
    }
    for (const entry of entries) addTimelineEvent(em, incident, actor, entry, now);
    incident.updatedAt = now;
    return { incident, created: false, before, actor, alertIds, hadResolved: resolved.length > 0 };
  }

  async function annotationsOf(em: EntityManager, ids: string[]): Promise<Record<string, string>[]> {
    const rows = await em.getConnection().execute<{ id: string; annotations: Record<string, string> }[]>(
      `select id, annotations from alert where id in (${ids.map(() => '?').join(',')})`,
      ids,
      'all',
      em.getTransactionContext(),
    );
    const byId = new Map(rows.map((row) => [String(row.id), row.annotations]));
    return ids.map((id) => byId.get(id) ?? {});
  }

  /** A resolved incident of the same group whose alert fires again soon after is re-opened, not duplicated. */
  async function reopenable(em: EntityManager, dedupKey: string, now: Date): Promise<Incident | null> {
    const windowMs = parseDuration(configStore.current.incidents.reopenWindow) ?? 3_600_000;
    return em.findOne(IncidentSchema, { dedupKey, state: 'resolved', resolvedAt: { $gte: new Date(now.getTime() - windowMs) } }, { orderBy: { id: 'desc' } });
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
  async function alertsCleared(em: EntityManager, incident: Incident, now: Date): Promise<TimelineEntry[]> {
    const config = configStore.current;
    const client = config.clients.find((candidate) => candidate.id === incident.clientId);
    const autoResolve = client?.incidents?.autoResolveOnClear ?? config.incidents.autoResolveOnClear;
    if (!autoResolve) {
      incident.alertsClearedAt = now;
      return [{ type: 'alerts.cleared', message: 'all alerts cleared; the incident stays open until staff resolve it (client policy)' }];
    }
    const from = incident.state;
    await incidents.changeState(em, incident, 'resolved', now);
    incident.resolutionSummary = 'alerts cleared';
    incident.alertsClearedAt = now;
    return [{ type: 'state.changed', message: `${from} -> resolved: alerts cleared`, data: { from, to: 'resolved', reason: 'alerts cleared' } }];
  }

  async function runUntilIdle(): Promise<void> {
    do {
      wakeAgain = false;
      try {
        for (;;) {
          const started = Date.now();
          const processed = await processBatch();
          if (processed < BATCH_SIZE || stopped) break;
          // During an alert storm, storing what arrives (durability) comes first: after each
          // full batch, pause as long as the batch took, so intake keeps at least half the CPU.
          if (deps.intakeBusy?.()) await new Promise((resolve) => setTimeout(resolve, Date.now() - started));
        }
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

function attachedEntry(firing: { route: RoutedAlert; alert: PendingAlert }[]): TimelineEntry {
  return {
    type: 'alert.attached',
    message: `${firing.length} alert${firing.length > 1 ? 's' : ''} firing: ${summarize(firing.map(({ route }) => route.alertname))}`,
    data: { alertIds: firing.map(({ alert }) => alert.id) },
  };
}

function truncatedEntry(truncated: number): TimelineEntry {
  return { type: 'alert.attached', message: `the sender truncated ${truncated} alerts of this group; not every alert is listed here`, data: { truncatedAlerts: truncated } };
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

function sourceOf(annotations: Record<string, string>): Source {
  const source = annotations.source;
  return source === 'phone' || source === 'email' || source === 'portal' || source === 'staff' ? source : 'monitoring';
}
