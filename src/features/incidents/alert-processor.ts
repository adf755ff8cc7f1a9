import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { LockMode } from '@mikro-orm/core';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { EventBus } from '../../platform/event-bus';
import type { Logger } from '../../platform/logger';
import { implausibleInstants } from '../../platform/plausible-time';
import type { Actor, AuditService } from '../audit/audit-service';
import { alertTitle, routeAlert, type RoutedAlert } from '../alert-intake/alert-routing';
import { IncidentSchema, type Incident } from './incident-entities';
import { formatIncidentId, isOpen, OPEN_STATES, priorityFor, type IncidentState, type Severity, type Source, type Urgency } from './incident-rules';
import { auditSnapshot, type IncidentService } from './incident-service';
import { addTimelineEvent, type TimelineEntry } from './incident-timeline';

const DEFAULT_BATCH_SIZE = 2000;
const LEASE_MS = 60_000;
const POLL_INTERVAL_MS = 1000;
const URGENCY_RANK: Record<Urgency, number> = { low: 0, medium: 1, high: 2 };

/**
 * An alert row as the processor needs it. Read and updated with plain SQL: hydrating
 * thousands of entities per batch (and diffing their JSON labels) cost more CPU than the
 * whole intake path.
 */
interface PendingAlert {
  id: string;
  integration: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  startsAt: Date;
  /** The row version (PostgreSQL's xmin) at claim time: tells whether intake changed it meanwhile. */
  rowVersion: string;
  labels: Record<string, string>;
  truncatedAlerts: number;
  incidentId: number | null;
}

/**
 * Claims work with a lease instead of holding row locks while processing: intake upserts
 * the same rows (an alert resolving while its firing is being processed) and must never
 * wait behind a batch. A processor that dies leaves a lease that expires; the rows are
 * then claimed again.
 */
const CLAIM_SQL = `
  update alert set lease_until = ?
  where id in (select id from alert where needs_processing and (lease_until is null or lease_until < ?)
               order by id limit ? for update skip locked)
  returning id, integration, group_key as "groupKey", status, starts_at as "startsAt", xmin::text as "rowVersion",
            labels, truncated_alerts as "truncatedAlerts", incident_id as "incidentId"`;

interface Group {
  key: string;
  /** Set when the alerts already belong to an incident (a status change of a known alert). */
  incidentId?: number;
  dedupKey: string;
  alerts: { alert: PendingAlert; route: RoutedAlert }[];
}

/** What this batch did to one incident. */
interface Change {
  incident: Incident;
  created: boolean;
  /** Audit snapshot before the change (null for a new incident). */
  before: ReturnType<typeof auditSnapshot> | null;
  actor: Actor;
  alerts: PendingAlert[];
  hadResolved: boolean;
}

/**
 * Turns stored alerts into incident changes. Intake only commits alerts (fast, durable);
 * this loop claims unprocessed rows, so any number of daemons share the work. Within a
 * batch, locks are always taken in the same order (advisory locks per alert group by key,
 * then incident rows by id), so daemons never deadlock, and the incident rows are locked
 * before they are read, so a staff edit never silently loses to a batch.
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
  batchSize?: number;
}) {
  const { orm, clock, configStore, incidents, audit, bus, logger } = deps;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
  let running: Promise<void> | null = null;
  let wakeAgain = false;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  async function claim(): Promise<PendingAlert[]> {
    const now = clock.now();
    const rows = await orm.em.getConnection().execute<PendingAlert[]>(CLAIM_SQL, [new Date(now.getTime() + LEASE_MS), now, batchSize]);
    // The driver hands timestamps over as text.
    return rows.map((row) => ({ ...row, id: String(row.id), startsAt: new Date(row.startsAt) }));
  }

  function group(alerts: PendingAlert[]): Group[] {
    const config = configStore.current;
    const integrations = new Map(config.integrations.map((integration) => [integration.name, integration]));
    const groups = new Map<string, Group>();
    for (const alert of alerts) {
      // Annotations only matter for a new incident's title and text; they are read then.
      const route = routeAlert({ labels: alert.labels, annotations: {} }, config, integrations.get(alert.integration) ?? { name: alert.integration });
      const dedupKey = `${alert.integration}|${alert.groupKey}|${route.clientId ?? 'triage'}`;
      const incidentId = alert.incidentId ?? undefined;
      const key = incidentId ? `incident:${incidentId}` : `group:${dedupKey}`;
      let entry = groups.get(key);
      if (!entry) groups.set(key, (entry = { key, incidentId, dedupKey, alerts: [] }));
      entry.alerts.push({ alert, route });
    }
    return [...groups.values()];
  }

  /** Applies some groups in one transaction. */
  async function apply(groups: Group[]): Promise<void> {
    const changes = await orm.em.fork().transactional(async (em) => {
      const connection = em.getConnection();
      const tx = em.getTransactionContext();
      // 1. Advisory locks of every group, in key order (the same order in every daemon).
      const keys = [...new Set(groups.map((g) => g.dedupKey))].sort();
      await connection.execute(
        'select pg_advisory_xact_lock(k) from (select hashtext(x) as k from jsonb_array_elements_text(?::jsonb) as x order by x) as ordered',
        [JSON.stringify(keys)],
        'all',
        tx,
      );
      // 2. The incidents involved, locked in id order.
      const linkedIds = groups.flatMap((g) => (g.incidentId ? [g.incidentId] : []));
      const found = await em.find(
        IncidentSchema,
        { $or: [...(linkedIds.length ? [{ id: { $in: linkedIds } }] : []), { dedupKey: { $in: keys }, state: { $in: [...OPEN_STATES] } }] },
        { orderBy: { id: 'asc' }, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      const byId = new Map(found.map((incident) => [incident.id, incident]));
      const openByKey = new Map<string, Incident>();
      for (const incident of found) if (incident.dedupKey && isOpen(incident.state as IncidentState)) openByKey.set(incident.dedupKey, incident);

      // 3. Each group onto its incident; one Change per incident, however many groups reach it.
      const byIncident = new Map<number, Change>();
      for (const g of groups) {
        const change = await applyGroup(em, g, byId, openByKey);
        const seen = byIncident.get(change.incident.id);
        if (seen) {
          seen.alerts.push(...change.alerts);
          seen.hadResolved ||= change.hadResolved;
        } else {
          byIncident.set(change.incident.id, change);
        }
      }
      await em.flush();
      const changes = [...byIncident.values()];

      // 4. Link the alerts. A row intake changed meanwhile (resolved while we processed
      //    its firing) stays marked, and the next batch takes the change.
      const links = changes.flatMap((change) => change.alerts.map((alert) => [alert.id, change.incident.id, alert.rowVersion] as const));
      await connection.execute(
        `update alert as a set incident_id = v.incident_id, lease_until = null, needs_processing = (a.xmin::text <> v.row_version)
         from (values ${links.map(() => '(?::bigint, ?::int, ?::text)').join(',')}) as v(id, incident_id, row_version) where a.id = v.id`,
        links.flat(),
        'run',
        tx,
      );

      // 5. Incidents that got "resolved" alerts may have none firing any more.
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
          const now = clock.now();
          for (const entry of await alertsCleared(em, change.incident, now)) addTimelineEvent(em, change.incident, change.actor, entry, now);
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
      return changes;
    });
    for (const change of changes) {
      bus.emit('incident.changed', { incidentId: change.incident.id, number: change.incident.number, clientId: change.incident.clientId ?? null, kind: change.created ? 'created' : 'updated', eventIds: [] });
    }
  }

  /** Finds (or creates, or re-opens) the group's incident and applies its alerts. */
  async function applyGroup(em: EntityManager, g: Group, byId: Map<number, Incident>, openByKey: Map<string, Incident>): Promise<Change> {
    const now = clock.now();
    const firing = g.alerts.filter(({ alert }) => alert.status === 'firing');
    const resolved = g.alerts.filter(({ alert }) => alert.status === 'resolved');
    const actor: Actor = { type: 'integration', name: g.alerts[0]!.alert.integration };
    const reopenWindowMs = parseDuration(configStore.current.incidents.reopenWindow) ?? 3_600_000;
    const withinReopenWindow = (incident: Incident) => !!incident.resolvedAt && now.getTime() - incident.resolvedAt.getTime() <= reopenWindowMs;

    let incident: Incident | null = null;
    if (g.incidentId) {
      const linked = byId.get(g.incidentId) ?? null;
      // A known alert firing again long after its incident ended belongs to a new incident.
      const ended = linked && !isOpen(linked.state as IncidentState);
      incident = linked && (!ended || firing.length === 0 || (linked.state === 'resolved' && withinReopenWindow(linked))) ? linked : null;
    }
    incident ??= openByKey.get(g.dedupKey) ?? null;
    if (!incident && firing.length > 0) {
      const recent = await em.findOne(IncidentSchema, { dedupKey: g.dedupKey, state: 'resolved' }, { orderBy: { resolvedAt: 'desc' }, lockMode: LockMode.PESSIMISTIC_WRITE });
      if (recent && withinReopenWindow(recent)) incident = recent;
    }

    if (!incident) {
      // Even a group that is already resolved becomes an incident: it fired, and the
      // record must exist (it is resolved again at once, "alerts cleared").
      const created = await create(em, g, actor, now);
      openByKey.set(g.dedupKey, created);
      byId.set(created.id, created);
      return { incident: created, created: true, before: null, actor, alerts: g.alerts.map(({ alert }) => alert), hadResolved: resolved.length > 0 };
    }

    const before = auditSnapshot(incident);
    const entries: TimelineEntry[] = [];
    if (incident.state === 'resolved' && firing.length > 0) {
      entries.push({ type: 'state.changed', message: `resolved -> investigating: ${firing[0]!.route.alertname} fired again`, data: { from: 'resolved', to: 'investigating', reason: 'alert fired again' } });
      await incidents.changeState(em, incident, 'investigating', now);
    }
    if (firing.length > 0) {
      incident.alertsClearedAt = null;
      entries.push(attachedEntry(firing));
      const scopeOf = () => `${incident!.ciIds.join(',')}|${incident!.serviceIds.join(',')}`;
      const was = { severity: incident.severity, scope: scopeOf() };
      entries.push(...widen(incident, firing.map(({ route }) => route)));
      if (incident.severity !== was.severity) await incidents.severityChanged(em, incident, was.severity, now);
      if (scopeOf() !== was.scope) await incidents.scopeChanged(em, incident, now);
    }
    if (resolved.length > 0) {
      entries.push({ type: 'alert.resolved', message: `${resolved.length} alert${resolved.length > 1 ? 's' : ''} resolved: ${summarize(resolved.map(({ route }) => route.alertname))}`, data: { alertIds: resolved.map(({ alert }) => alert.id) } });
    }
    const truncated = Math.max(0, ...g.alerts.map(({ alert }) => alert.truncatedAlerts));
    if (truncated > incident.truncatedAlerts) {
      incident.truncatedAlerts = truncated;
      entries.push(truncatedEntry(truncated));
    }
    for (const entry of entries) addTimelineEvent(em, incident, actor, entry, now);
    incident.updatedAt = now;
    return { incident, created: false, before, actor, alerts: g.alerts.map(({ alert }) => alert), hadResolved: resolved.length > 0 };
  }

  async function create(em: EntityManager, g: Group, actor: Actor, now: Date): Promise<Incident> {
    const worstAlert = g.alerts.reduce((a, b) => (b.route.severity < a.route.severity ? b : a));
    const first = g.alerts.reduce((a, b) => (b.alert.startsAt < a.alert.startsAt ? b : a)).alert;
    const [worstAnnotations, firstAnnotations] = await annotationsOf(em, [worstAlert.alert.id, first.id]);
    const worst = { ...worstAlert.route, title: alertTitle(worstAnnotations!) ?? worstAlert.route.title };
    const truncated = Math.max(...g.alerts.map(({ alert }) => alert.truncatedAlerts));
    const integration = configStore.current.integrations.find((candidate) => candidate.name === first.integration);
    const created = await incidents.createInTransaction(
      em,
      {
        title: worst.title,
        description: firstAnnotations!.description ?? '',
        clientId: worst.clientId,
        serviceIds: union(g.alerts.flatMap(({ route }) => route.serviceIds)),
        ciIds: union(g.alerts.flatMap(({ route }) => route.ciIds)),
        severity: worst.severity,
        urgency: worst.urgency,
        category: worst.category,
        // Only the generic integration carries a reporting channel (a client's phone call...).
        source: integration?.type === 'generic' ? sourceOf(firstAnnotations!) : 'monitoring',
        reportedBy: integration?.type === 'generic' ? (firstAnnotations!.reportedBy ?? null) : null,
        // Generic alerts without an occurrence time carry the epoch, and a sender's clock can be
        // years off (startsAt 9999-12-31 would start the SLA clocks then): an implausible start is logged now.
        reportedAt: implausibleInstants(now, 'happened', { startsAt: first.startsAt }).length ? now : first.startsAt,
        dedupKey: g.dedupKey,
        alertname: worst.alertname,
        truncatedAlerts: truncated,
      },
      actor,
      worst.notes.length ? [{ type: 'routing', message: worst.notes.join('; ') }] : [],
    );
    const firing = g.alerts.filter(({ alert }) => alert.status === 'firing');
    const entries: TimelineEntry[] = [attachedEntry(firing.length ? firing : g.alerts)];
    if (truncated > 0) entries.push(truncatedEntry(truncated));
    for (const entry of entries) addTimelineEvent(em, created, actor, entry, now);
    return created;
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
      if (incident.alertsClearedAt) return [];
      incident.alertsClearedAt = now;
      return [{ type: 'alerts.cleared', message: 'all alerts cleared; the incident stays open until staff resolve it (client policy)' }];
    }
    const from = incident.state;
    await incidents.changeState(em, incident, 'resolved', now);
    incident.resolutionSummary = 'alerts cleared';
    incident.alertsClearedAt = now;
    return [{ type: 'state.changed', message: `${from} -> resolved: alerts cleared`, data: { from, to: 'resolved', reason: 'alerts cleared' } }];
  }

  /**
   * One batch: claim, then apply all groups in one transaction. If that fails, each group
   * is retried in its own transaction, so one bad group does not hold back the others; a
   * group that still fails keeps its lease and is retried when the lease expires.
   */
  async function processBatch(): Promise<number> {
    const alerts = await claim();
    if (alerts.length === 0) return 0;
    const groups = group(alerts);
    try {
      await apply(groups);
    } catch (error) {
      logger.warn({ err: error, groups: groups.length }, 'alert batch failed; retrying group by group');
      for (const g of groups) {
        await apply([g]).catch((groupError) => logger.error({ err: groupError, dedupKey: g.dedupKey, alerts: g.alerts.length }, 'alert group failed; it is retried when its lease expires'));
      }
    }
    return alerts.length;
  }

  async function runUntilIdle(): Promise<void> {
    do {
      wakeAgain = false;
      try {
        for (;;) {
          const started = Date.now();
          const processed = await processBatch();
          if (processed < batchSize || stopped) break;
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
    /** Polls as a safety net: alerts committed by another daemon, expired leases. */
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

function attachedEntry(alerts: { route: RoutedAlert; alert: PendingAlert }[]): TimelineEntry {
  const verb = alerts.every(({ alert }) => alert.status === 'resolved') ? 'received (already resolved)' : 'firing';
  return {
    type: 'alert.attached',
    message: `${alerts.length} alert${alerts.length > 1 ? 's' : ''} ${verb}: ${summarize(alerts.map(({ route }) => route.alertname))}`,
    data: { alertIds: alerts.map(({ alert }) => alert.id) },
  };
}

function truncatedEntry(truncated: number): TimelineEntry {
  return { type: 'alert.truncated', message: `the sender truncated ${truncated} alerts of this group; not every alert is listed here`, data: { truncatedAlerts: truncated } };
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
