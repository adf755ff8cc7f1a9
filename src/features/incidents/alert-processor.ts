import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { EventBus } from '../../platform/event-bus';
import { isTransientDatabaseError } from '../../platform/http/error-handler';
import type { Logger } from '../../platform/logger';
import { implausibleInstants } from '../../platform/plausible-time';
import type { Actor, AuditService } from '../audit/audit-service';
import { alertTitle, routeAlert, type RoutedAlert } from '../alert-intake/alert-routing';
import { claimAlerts, claimantOf, ClaimLostError, groupHashOf, linkAlerts, releaseAlerts, type ClaimLane, type PendingAlert } from './alert-claims';
import { createProcessorLease } from './alert-processor-lease';
import { IncidentSchema, type Incident } from './incident-entities';
import { formatIncidentId, isOpen, OPEN_STATES, priorityFor, type IncidentState, type Severity, type Source, type Urgency } from './incident-rules';
import { auditSnapshot, type IncidentService } from './incident-service';
import { addTimelineEvent, type TimelineEntry } from './incident-timeline';
import { MAX_ATTEMPTS, type PoisonAlerts } from './poison-alerts';

const DEFAULT_BATCH_SIZE = 2000;
/** New-group alerts claimed at once (alert-claims.ts, lane `new-groups`). */
const NEW_GROUP_BATCH_SIZE = 200;
/** While webhooks keep arriving, new groups are looked for at most this often. */
const NEW_GROUP_CHECK_MS = 200;
const POLL_INTERVAL_MS = 1000;
/** A failed group is tried again after 2, 4, 8, 16 s...; a transient failure (database away, deadlock) after 1 s. */
const retryDelayMs = (attempts: number) => 1000 * 2 ** Math.min(attempts, 8);
const TRANSIENT_RETRY_MS = 1000;
const URGENCY_RANK: Record<Urgency, number> = { low: 0, medium: 1, high: 2 };

interface Group {
  key: string;
  /** Set when the alerts already belong to an incident (a status change of a known alert). */
  incidentId?: number;
  dedupKey: string;
  /** md5 of integration|groupKey (alert-claims.ts groupHashOf): how the group's incidents are found. */
  groupHash: string;
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

/** The incidents a batch may touch, locked and read at its start. */
interface Candidates {
  byId: Map<number, Incident>;
  openByKey: Map<string, Incident>;
  /** The latest resolved incident per dedup key, still inside the re-open window. */
  reopenableByKey: Map<string, Incident>;
}

/**
 * Turns stored alerts into incident changes. Intake only commits alerts (fast, durable);
 * this loop claims unprocessed rows (alert-claims.ts), so any number of daemons share the
 * work, and takes over the claims of a daemon that died within seconds.
 *
 * Lock order, the same in every transaction that changes several incidents: advisory locks
 * per alert group (by key), then every incident the batch may touch, in one statement, by id,
 * FOR NO KEY UPDATE, then alert rows by identity (as intake locks them). NO KEY UPDATE, not
 * FOR UPDATE: every timeline entry, page or alert link anyone writes takes a KEY SHARE lock
 * on its incident (foreign key check), which FOR UPDATE blocks. The timer engine writes those
 * for up to 25 incidents per transaction, in due order; against a batch holding incidents
 * FOR UPDATE in id order that deadlocked (40P01) under load.
 *
 * Two lanes, each one batch at a time: the queue (every alert, oldest first) and new groups
 * (alerts of groups without an open incident: the ones that page). During an alert storm the
 * queue falls behind, but a new problem does not wait for it: it becomes an incident within
 * about a second. The incident rows are locked before they are read, so a staff edit never
 * silently loses to a batch.
 */
export function createAlertProcessor(deps: {
  orm: MikroORM;
  clock: Clock;
  configStore: ConfigStore;
  incidents: IncidentService;
  audit: AuditService;
  bus: EventBus;
  logger: Logger;
  poison: PoisonAlerts;
  /** True while webhooks are being received: processing then yields half the CPU to intake. */
  intakeBusy?: () => boolean;
  batchSize?: number;
}) {
  const { orm, clock, configStore, incidents, audit, bus, logger } = deps;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
  const lease = createProcessorLease({ connectionString: orm.config.get('clientUrl')!, logger });
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  // One batch at a time per lane: a claim a lane left behind is then its own to retake (alert-claims.ts).
  const inLane = { queue: serializer(), 'new-groups': serializer() };
  const runBatch = (lane: ClaimLane, limit: number) => inLane[lane](() => processBatch(lane, limit));
  // New-group batches at work right now (intake makes room for them).
  let newGroupBatches = 0;

  /** Groups claimed alerts by incident; an alert that cannot even be routed is a group of its own that fails. */
  function group(alerts: PendingAlert[]): { groups: Group[]; unroutable: { alert: PendingAlert; error: unknown }[] } {
    const config = configStore.current;
    const integrations = new Map(config.integrations.map((integration) => [integration.name, integration]));
    const groups = new Map<string, Group>();
    const unroutable: { alert: PendingAlert; error: unknown }[] = [];
    for (const alert of alerts) {
      let route: RoutedAlert;
      try {
        // Annotations only matter for a new incident's title and text; they are read then.
        route = routeAlert({ labels: alert.labels, annotations: {} }, config, integrations.get(alert.integration) ?? { name: alert.integration });
      } catch (error) {
        unroutable.push({ alert, error });
        continue;
      }
      const dedupKey = `${alert.integration}|${alert.groupKey}|${route.clientId ?? 'triage'}`;
      const incidentId = alert.incidentId ?? undefined;
      const key = incidentId ? `incident:${incidentId}` : `group:${dedupKey}`;
      let entry = groups.get(key);
      if (!entry) groups.set(key, (entry = { key, incidentId, dedupKey, groupHash: groupHashOf(alert.integration, alert.groupKey), alerts: [] }));
      entry.alerts.push({ alert, route });
    }
    return { groups: [...groups.values()], unroutable };
  }

  /**
   * Locks every incident the groups may touch, in one statement, in id order: the ones their
   * alerts are linked to, the open ones of their keys and the re-openable resolved ones. (A
   * lock taken later, out of order, is how batches deadlock.) Then reads them, fresh.
   */
  async function lockCandidates(em: EntityManager, groups: Group[], now: Date): Promise<Candidates> {
    const reopenWindowMs = parseDuration(configStore.current.incidents.reopenWindow) ?? 3_600_000;
    const rows = await em.getConnection().execute<{ id: number }[]>(
      `select id from incident
       where id in (select value::int from jsonb_array_elements_text(?::jsonb))
          or (group_hash in (select jsonb_array_elements_text(?::jsonb)) and dedup_key in (select jsonb_array_elements_text(?::jsonb))
              and (state in (${OPEN_STATES.map((state) => `'${state}'`).join(', ')}) or (state = 'resolved' and resolved_at >= ?)))
       order by id for no key update`,
      [
        JSON.stringify(groups.flatMap((g) => (g.incidentId ? [g.incidentId] : []))),
        JSON.stringify([...new Set(groups.map((g) => g.groupHash))]),
        JSON.stringify([...new Set(groups.map((g) => g.dedupKey))]),
        new Date(now.getTime() - reopenWindowMs),
      ],
      'all',
      em.getTransactionContext(),
    );
    const found = rows.length ? await em.find(IncidentSchema, { id: { $in: rows.map((row) => row.id) } }, { orderBy: { id: 'asc' } }) : [];
    const candidates: Candidates = { byId: new Map(), openByKey: new Map(), reopenableByKey: new Map() };
    for (const incident of found) {
      candidates.byId.set(incident.id, incident);
      if (!incident.dedupKey) continue;
      if (isOpen(incident.state as IncidentState)) candidates.openByKey.set(incident.dedupKey, incident);
      else if (incident.state === 'resolved') {
        const latest = candidates.reopenableByKey.get(incident.dedupKey);
        if (!latest || (incident.resolvedAt?.getTime() ?? 0) > (latest.resolvedAt?.getTime() ?? 0)) candidates.reopenableByKey.set(incident.dedupKey, incident);
      }
    }
    return candidates;
  }

  /** Applies some groups in one transaction. */
  async function apply(claimant: string, groups: Group[]): Promise<void> {
    const changes = await orm.em.fork().transactional(async (em) => {
      const connection = em.getConnection();
      const tx = em.getTransactionContext();
      const now = clock.now();
      // 1. Advisory locks of every group, in one order (the same in every daemon and lane).
      const keys = [...new Set(groups.map((g) => g.dedupKey))].sort();
      await connection.execute(
        // Ordered by the lock number itself: two keys may share one (hashtext), and an order by key would then not be one order.
        'select pg_advisory_xact_lock(k) from (select distinct hashtext(x) as k from jsonb_array_elements_text(?::jsonb) as x order by k) as ordered',
        [JSON.stringify(keys)],
        'all',
        tx,
      );
      // 2. The incidents involved, locked in id order.
      const candidates = await lockCandidates(em, groups, now);

      // 3. Each group onto its incident; one Change per incident, however many groups reach it.
      const byIncident = new Map<number, Change>();
      for (const g of groups) {
        const change = await applyGroup(em, g, candidates);
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

      // 4. Link the alerts and end their claims (rolls back if a claim was lost meanwhile).
      await linkAlerts(
        em,
        claimant,
        changes.flatMap((change) => change.alerts.map((alert) => ({ alert, incidentId: change.incident.id }))),
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
  async function applyGroup(em: EntityManager, g: Group, candidates: Candidates): Promise<Change> {
    const now = clock.now();
    const firing = g.alerts.filter(({ alert }) => alert.status === 'firing');
    const resolved = g.alerts.filter(({ alert }) => alert.status === 'resolved');
    const actor: Actor = { type: 'integration', name: g.alerts[0]!.alert.integration };
    const reopenWindowMs = parseDuration(configStore.current.incidents.reopenWindow) ?? 3_600_000;
    const withinReopenWindow = (incident: Incident) => !!incident.resolvedAt && now.getTime() - incident.resolvedAt.getTime() <= reopenWindowMs;

    let incident: Incident | null = null;
    if (g.incidentId) {
      const linked = candidates.byId.get(g.incidentId) ?? null;
      // A known alert firing again long after its incident ended belongs to a new incident.
      const ended = linked && !isOpen(linked.state as IncidentState);
      incident = linked && (!ended || firing.length === 0 || (linked.state === 'resolved' && withinReopenWindow(linked))) ? linked : null;
    }
    incident ??= candidates.openByKey.get(g.dedupKey) ?? null;
    if (!incident && firing.length > 0) {
      const recent = candidates.reopenableByKey.get(g.dedupKey);
      if (recent && recent.state === 'resolved' && withinReopenWindow(recent)) incident = recent;
    }

    if (!incident) {
      // Even a group that is already resolved becomes an incident: it fired, and the
      // record must exist (it is resolved again at once, "alerts cleared").
      const created = await create(em, g, actor, now);
      candidates.openByKey.set(g.dedupKey, created);
      candidates.byId.set(created.id, created);
      return { incident: created, created: true, before: null, actor, alerts: g.alerts.map(({ alert }) => alert), hadResolved: resolved.length > 0 };
    }
    // A re-opened incident is open again for the groups after this one.
    if (firing.length > 0 && incident.dedupKey === g.dedupKey) candidates.openByKey.set(g.dedupKey, incident);

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
        groupHash: g.groupHash,
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
   * A group that failed on its own: tried again later; after MAX_ATTEMPTS claims it is parked
   * as poison. Transient trouble (database away, deadlock, serialization) does not count.
   * Returns false when the database itself is the problem: the batch then stops.
   */
  async function failed(claimant: string, alerts: PendingAlert[], error: unknown): Promise<boolean> {
    const ids = alerts.map((alert) => alert.id);
    if (error instanceof ClaimLostError) {
      logger.warn({ err: error, alerts: ids.length }, 'alert claims lost to another processor; it processes them');
      return true;
    }
    if (isTransientDatabaseError(error)) {
      logger.warn({ err: error, alerts: ids.length }, 'alert group failed on a transient database error; retrying shortly');
      await releaseAlerts(orm, claimant, ids, { retryAt: new Date(clock.now().getTime() + TRANSIENT_RETRY_MS), refund: true });
      // A deadlock or serialization failure concerns this group only; anything else is the database being away.
      return ['40P01', '40001'].includes((error as { code?: string }).code ?? '');
    }
    const attempts = Math.max(...alerts.map((alert) => alert.attempts));
    const message = errorText(error);
    if (attempts >= MAX_ATTEMPTS) {
      await deps.poison.park(claimant, alerts, message);
      return true;
    }
    logger.error({ err: error, alerts: ids.length, attempts }, `alert group failed (attempt ${attempts} of ${MAX_ATTEMPTS}); retrying later`);
    await releaseAlerts(orm, claimant, ids, { retryAt: new Date(clock.now().getTime() + retryDelayMs(attempts)), error: message });
    return true;
  }

  /** One batch of a lane: claim, then process. Returns how many alerts it claimed. */
  async function processBatch(lane: ClaimLane, limit: number): Promise<number> {
    const claimant = claimantOf(await lease.hold(), lane);
    const claimed = await claimAlerts(orm, { claimant, lane, limit, now: clock.now() });
    if (claimed.length === 0) return 0;
    if (lane === 'new-groups') newGroupBatches += 1;
    try {
      await processClaimed(claimant, claimed);
    } finally {
      if (lane === 'new-groups') newGroupBatches -= 1;
    }
    return claimed.length;
  }

  /**
   * Applies all groups of a claim in one transaction. If that fails, each group is retried in
   * its own transaction, so one bad group does not hold back the others; a group that still
   * fails is retried later, and parked as poison after MAX_ATTEMPTS.
   */
  async function processClaimed(claimant: string, claimed: PendingAlert[]): Promise<void> {
    // Claimed more often than allowed without an outcome: the processor died working on them (each time).
    const spent = claimed.filter((alert) => alert.attempts > MAX_ATTEMPTS);
    for (const alerts of byGroupKey(spent)) await deps.poison.park(claimant, alerts, alerts[0]!.lastError ?? `the processor stopped ${MAX_ATTEMPTS} times while working on these alerts`);
    const { groups, unroutable } = group(claimed.filter((alert) => alert.attempts <= MAX_ATTEMPTS));
    for (const { alert, error } of unroutable) await failed(claimant, [alert], error);
    if (groups.length === 0) return;
    try {
      await apply(claimant, groups);
    } catch (error) {
      logger.warn({ err: error, groups: groups.length }, 'alert batch failed; retrying group by group');
      for (const [index, g] of groups.entries()) {
        try {
          await apply(claimant, [g]);
        } catch (groupError) {
          if (await failed(claimant, g.alerts.map(({ alert }) => alert), groupError)) continue;
          // The database is the problem, not the alerts: give the rest back and stop.
          const rest = groups.slice(index + 1).flatMap((other) => other.alerts.map(({ alert }) => alert.id));
          await releaseAlerts(orm, claimant, rest, { retryAt: new Date(clock.now().getTime() + TRANSIENT_RETRY_MS), refund: true }).catch(() => {});
          throw groupError;
        }
      }
    }
  }

  /**
   * The queue lane: every stored alert, oldest first, in big batches (a batch costs about the
   * same for 100 alerts as for 2,000 when they belong to a few dozen incidents).
   */
  const queue = createLane('alert processing', async () => {
    for (;;) {
      const started = Date.now();
      const processed = await runBatch('queue', batchSize);
      if (processed < batchSize || stopped) return;
      // During an alert storm, storing what arrives (durability) comes first: after each
      // full batch, pause as long as the batch took, so intake keeps at least half the CPU.
      // New groups do not wait for this: they have their own lane.
      if (deps.intakeBusy?.()) await sleep(Date.now() - started);
    }
  });

  /**
   * The new-groups lane, next to the queue lane (its own transactions): alerts of groups with
   * no open incident, the ones that page. During an alert storm they do not wait behind the
   * queue, so a new problem becomes an incident within about a second.
   */
  let lastNewGroupScan = 0;
  const newGroups = createLane('new alert group processing', async () => {
    // While webhooks keep waking it, it looks at most every NEW_GROUP_CHECK_MS.
    const wait = lastNewGroupScan + NEW_GROUP_CHECK_MS - Date.now();
    if (wait > 0) await sleep(wait);
    while ((await runBatch('new-groups', NEW_GROUP_BATCH_SIZE)) === NEW_GROUP_BATCH_SIZE && !stopped);
    lastNewGroupScan = Date.now();
  });

  /** Runs `work` when woken; one run at a time, a wake during a run runs it once more afterwards. */
  function createLane(name: string, work: () => Promise<void>) {
    let running: Promise<void> | null = null;
    let again = false;
    return {
      wake(): void {
        if (stopped) return;
        if (running) {
          again = true;
          return;
        }
        running = (async () => {
          do {
            again = false;
            try {
              await work();
            } catch (error) {
              logger.error({ err: error }, `${name} failed; retrying on the next poll`);
              return;
            }
          } while (again && !stopped);
        })().finally(() => {
          running = null;
        });
      },
      /** Resolves when the run in progress (if any) is over. */
      idle: async () => {
        while (running) await running;
      },
    };
  }

  return {
    /** Process now (after an intake commit). Coalesces: one run at a time per lane. */
    wake(): void {
      newGroups.wake();
      queue.wake();
    },
    /** Polls as a safety net: alerts committed by another daemon, claims of a daemon that died, retries. */
    start(): void {
      stopped = false;
      timer = setInterval(() => this.wake(), POLL_INTERVAL_MS);
      timer.unref();
      this.wake();
    },
    /** Stops polling, waits for the batches in progress, and ends this processor's registration. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      await Promise.all([queue.idle(), newGroups.idle()]);
      await lease.release();
    },
    /** Processes everything pending (not waiting for retries), for tests and benchmarks. */
    async drain(): Promise<void> {
      await Promise.all([queue.idle(), newGroups.idle()]);
      while ((await runBatch('new-groups', NEW_GROUP_BATCH_SIZE)) + (await runBatch('queue', batchSize)) > 0);
    },
    /** True while alerts of new groups (the ones that page) are becoming incidents. */
    newGroupsInProgress: () => newGroupBatches > 0,
    /** This processor's name in alert claims (alert.claimed_by is `<id>/<lane>`). */
    id: lease.id,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the functions given to it one after the other, never two at once. */
function serializer() {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const result = last.then(work, work);
    last = result.catch(() => {});
    return result;
  };
}

/** The alerts of each alert group (integration + group key). */
function byGroupKey(alerts: PendingAlert[]): PendingAlert[][] {
  const groups = new Map<string, PendingAlert[]>();
  for (const alert of alerts) {
    const key = `${alert.integration}|${alert.groupKey}`;
    groups.set(key, [...(groups.get(key) ?? []), alert]);
  }
  return [...groups.values()];
}

/**
 * An error in a few words for the alert row and the triage incident: SQLSTATE and the
 * database's message, without the statement and its values that the query builder puts in
 * front of it ("<sql with values> - <message>"), and no stack.
 */
function errorText(error: unknown): string {
  const { code, detail } = (error ?? {}) as { code?: string; detail?: string };
  let message = error instanceof Error ? error.message : String(error);
  if (code && message.includes(' - ')) message = message.slice(message.lastIndexOf(' - ') + 3);
  return `${code ? `[${code}] ` : ''}${message}${detail ? ` (${detail})` : ''}`.slice(0, 2000);
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
