import type { EntityManager } from '@mikro-orm/postgresql';
import { DateTime } from 'luxon';
import type { ClientConfig, IncidentdConfig, ServiceConfig } from '../../config/config-schema';
import type { ComponentStatus } from '../../config/status-page-config-schema';
import { IncidentEventSchema, IncidentSchema, type Incident, type IncidentEvent } from '../incidents/incident-entities';
import { presentIncidentForClient } from '../incidents/incident-presenter';
import { formatIncidentId, OPEN_STATES, publicStatusOf, type IncidentState, type PublicStatus } from '../incidents/incident-rules';
import type { MaintenanceSource } from './maintenance-source';
import { StatusOverrideSchema } from './status-page-entities';
import {
  componentStatus,
  IMPACTING_STATES,
  impactOfSeverity,
  isPublicStatus,
  maintenanceStatusAt,
  overallStatus,
  uptime,
  type Impact,
  type Indicator,
  type MaintenanceStatus,
  type StatusSpan,
  type UptimeDay,
} from './status-rules';

/** Days of incident history and uptime bars on the page. */
export const HISTORY_DAYS = 90;
/** Maintenance announced this far ahead is listed. */
const MAINTENANCE_HORIZON_DAYS = 60;
const DAY_MS = 86_400_000;

export interface PublicUpdate {
  id: string;
  status: PublicStatus;
  body: string;
  at: Date;
}

export interface PublicIncident {
  /** INC-1042, as client contacts already know it. */
  id: string;
  name: string;
  status: PublicStatus;
  impact: Impact;
  componentIds: string[];
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date;
  monitoringAt: Date | null;
  resolvedAt: Date | null;
  /** Newest first. */
  updates: PublicUpdate[];
}

export interface PublicMaintenance {
  id: string;
  name: string;
  description: string;
  status: MaintenanceStatus;
  componentIds: string[];
  scheduledFor: Date;
  scheduledUntil: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface PublicComponent {
  id: string;
  name: string;
  description: string;
  group: string;
  position: number;
  status: ComponentStatus;
  /**
   * The last known change of its status from stored data: the newest incident affecting it
   * (its last update or transition), maintenance starting or ending, an override being set.
   * Null when nothing in the last HISTORY_DAYS days touched it.
   */
  lastChange: Date | null;
  /** The oldest of the same stored data (an incident's start, maintenance's start, an override); null likewise. */
  firstSeen: Date | null;
  uptime: { days: UptimeDay[]; percent: number };
}

/** Everything the public may know about one client's services, at one moment. */
export interface StatusModel {
  client: { id: string; name: string; title: string; logoUrl: string | null; timezone: string; public: boolean; subscriptions: boolean };
  generatedAt: Date;
  components: PublicComponent[];
  overall: { indicator: Indicator; description: string };
  /** Unresolved ones and those of the last HISTORY_DAYS days, newest first. */
  incidents: PublicIncident[];
  /** Soonest first. */
  maintenances: PublicMaintenance[];
  /** When the clock alone next changes the page (maintenance starts or ends, an override expires, a new day). */
  nextTransition: Date;
}

export function publicServices(config: IncidentdConfig, clientId: string): ServiceConfig[] {
  return config.services.filter((service) => service.client === clientId && service.public);
}

/** The client's incidents of the history window (and any still open) with their public updates, those that touch the page. */
async function loadIncidentLives(em: EntityManager, clientId: string, since: Date, publicIds: Set<string>): Promise<IncidentLife[]> {
  const incidents = await em.find(IncidentSchema, {
    clientId,
    security: false,
    state: { $ne: 'cancelled' },
    // Alerts held as expected during a change are not told to the client (the change's
    // maintenance is); released as a normal incident, it shows.
    expectedDuringChange: null,
    $or: [{ state: { $in: [...OPEN_STATES] } }, { reportedAt: { $gte: since } }, { resolvedAt: { $gte: since } }],
  });
  const events = incidents.length
    ? await em.find(IncidentEventSchema, { incident: { $in: incidents.map((incident) => incident.id) }, $or: [{ visibility: 'public' }, { type: 'state.changed' }] }, { orderBy: { id: 'asc' } })
    : [];
  const eventsByIncident = new Map<number, IncidentEvent[]>();
  for (const event of events) eventsByIncident.set(event.incident.id, [...(eventsByIncident.get(event.incident.id) ?? []), event]);
  return incidents
    .map((incident) => incidentLife(incident, eventsByIncident.get(incident.id) ?? []))
    .filter((life) => life.incident.serviceIds.some((id) => publicIds.has(id)) || life.updates.length > 0);
}

/** Reads what the page needs in a handful of queries; called once per change, never per viewer. */
export async function loadStatusModel(em: EntityManager, deps: { config: IncidentdConfig; client: ClientConfig; maintenance: MaintenanceSource; now: Date }): Promise<StatusModel> {
  const { client, config, now } = deps;
  const settings = client.statusPage;
  const services = publicServices(config, client.id);
  const publicIds = new Set(services.map((service) => service.id));
  const since = new Date(now.getTime() - HISTORY_DAYS * DAY_MS);

  // The three reads do not depend on each other: side by side, each on its own connection
  // (a fork per read), since every live update of every open page waits for this build.
  const [lives, maintenanceRows, overrides] = await Promise.all([
    loadIncidentLives(em, client.id, since, publicIds),
    deps.maintenance.scheduledFor(client.id, since, new Date(now.getTime() + MAINTENANCE_HORIZON_DAYS * DAY_MS)),
    em.fork().find(StatusOverrideSchema, { clientId: client.id, $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] }),
  ]);
  const maintenances: PublicMaintenance[] = maintenanceRows
    .map((row) => ({
      id: row.id,
      name: row.title,
      description: row.description,
      status: maintenanceStatusAt(row, now),
      componentIds: row.serviceIds.filter((id) => publicIds.has(id)),
      scheduledFor: row.start,
      scheduledUntil: row.end,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    }))
    .sort((a, b) => a.scheduledFor.getTime() - b.scheduledFor.getTime());

  const overrideOf = new Map(overrides.map((override) => [override.serviceId, override.status as ComponentStatus]));
  const overrideSetAt = new Map(overrides.map((override) => [override.serviceId, override.setAt]));
  const days = calendarDays(now, client.timezone);
  const openUntil = new Date(Math.floor(now.getTime() / UPTIME_STEP_MS) * UPTIME_STEP_MS);

  const components = services.map((service, index): PublicComponent => {
    const affecting = lives.filter((life) => life.incident.serviceIds.includes(service.id));
    const severityStatus = (life: IncidentLife) => settings.componentStatusBySeverity[`sev${life.incident.severity}` as 'sev1'];
    const maintenanceSpans: StatusSpan[] = maintenances
      .filter((m) => m.componentIds.includes(service.id) && m.status !== 'scheduled')
      .map((m): StatusSpan => ({ start: m.scheduledFor.getTime(), end: m.status === 'completed' ? m.scheduledUntil.getTime() : Math.min(m.scheduledUntil.getTime(), openUntil.getTime()), status: 'under_maintenance' }))
      .filter((span) => span.end > span.start);
    const incidentSpans: StatusSpan[] = affecting.flatMap((life) => life.impactSpans(openUntil).map((span) => ({ ...span, status: severityStatus(life) })));
    return {
      id: service.id,
      name: service.name,
      description: service.description,
      group: service.group,
      position: index + 1,
      status: componentStatus({
        override: overrideOf.get(service.id) ?? null,
        incidentStatuses: affecting.filter((life) => IMPACTING_STATES.includes(life.incident.state as IncidentState)).map(severityStatus),
        inMaintenance: maintenances.some((m) => m.status === 'in_progress' && m.componentIds.includes(service.id)),
      }),
      lastChange: latest([
        ...affecting.map((life) => life.updatedAt),
        ...maintenances.filter((m) => m.componentIds.includes(service.id) && m.status !== 'scheduled').map((m) => (m.status === 'completed' ? m.scheduledUntil : m.scheduledFor)),
        overrideSetAt.get(service.id),
      ]),
      firstSeen: earliest([
        ...affecting.map((life) => life.incident.reportedAt),
        ...maintenances.filter((m) => m.componentIds.includes(service.id) && m.status !== 'scheduled').map((m) => m.scheduledFor),
        overrideSetAt.get(service.id),
      ]),
      uptime: uptime([...incidentSpans, ...maintenanceSpans], days, settings.uptime),
    };
  });

  const publicName = (id: string) => config.services.find((service) => service.id === id && publicIds.has(id))?.name;
  const presented = lives
    .map((life): PublicIncident => ({
      id: formatIncidentId(life.incident.number),
      name: presentIncidentForClient(life.incident, [], publicName).title,
      status: life.currentStatus,
      impact: impactOfSeverity(life.incident.severity),
      componentIds: life.incident.serviceIds.filter((id) => publicIds.has(id)),
      createdAt: life.incident.createdAt,
      updatedAt: life.updatedAt,
      startedAt: life.incident.reportedAt,
      monitoringAt: life.incident.mitigatedAt ?? null,
      resolvedAt: life.currentStatus === 'resolved' ? (life.incident.resolvedAt ?? null) : null,
      updates: [...life.updates].reverse(),
    }))
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());

  return {
    client: { id: client.id, name: client.name, title: settings.title ?? client.name, logoUrl: settings.logoUrl ?? null, timezone: client.timezone, public: settings.public, subscriptions: settings.subscriptions },
    generatedAt: now,
    components,
    overall: overallStatus(components.map((component) => component.status)),
    incidents: presented,
    maintenances,
    nextTransition: nextTransition(now, client.timezone, maintenances, overrides.map((override) => override.expiresAt)),
  };
}

type IncidentLife = ReturnType<typeof incidentLife>;

const times = (dates: (Date | null | undefined)[]) => dates.filter((at): at is Date => !!at).map((at) => at.getTime());
function latest(dates: (Date | null | undefined)[]): Date | null {
  const found = times(dates);
  return found.length ? new Date(Math.max(...found)) : null;
}
function earliest(dates: (Date | null | undefined)[]): Date | null {
  const found = times(dates);
  return found.length ? new Date(Math.min(...found)) : null;
}

/** An incident's public story: its updates with their status, and when it was hurting the service. */
function incidentLife(incident: Incident, events: IncidentEvent[]) {
  const transitions = events.filter((event) => event.type === 'state.changed' && typeof event.data?.to === 'string').map((event) => ({ at: event.at, to: event.data!.to as IncidentState }));
  const first = events.find((event) => event.type === 'state.changed' && typeof event.data?.from === 'string');
  const initial = (first?.data?.from as IncidentState | undefined) ?? (incident.state as IncidentState);
  // Events are in commit order; the clock may show several at the same instant.
  let state = initial;
  const updates: (PublicUpdate & { explicit: boolean })[] = [];
  for (const event of events) {
    if (event.type === 'state.changed' && typeof event.data?.to === 'string') state = event.data.to as IncidentState;
    if (event.visibility !== 'public') continue;
    const explicit = isPublicStatus(event.data?.status);
    const status = explicit ? (event.data!.status as PublicStatus) : publicStatusOf(state);
    if (status) updates.push({ id: event.id, status, body: event.message, at: event.at, explicit });
  }
  const stateStatus = publicStatusOf(incident.state as IncidentState);
  const lastTransition = transitions.at(-1)?.at ?? incident.createdAt;
  const lastUpdate = updates.at(-1);
  // An update's explicit status ("identified") wins until the lifecycle moves on.
  const currentStatus = stateStatus !== 'resolved' && lastUpdate?.explicit && lastUpdate.at >= lastTransition ? lastUpdate.status : stateStatus;
  return {
    incident,
    updates: updates.map(({ explicit: _explicit, ...update }): PublicUpdate => update),
    currentStatus,
    updatedAt: new Date(Math.max(incident.createdAt.getTime(), lastTransition.getTime(), lastUpdate?.at.getTime() ?? 0)),
    /** Spans in which the incident was in an impacting state; one still going on ends at `now`. */
    impactSpans(now: Date): { start: number; end: number }[] {
      const spans: { start: number; end: number }[] = [];
      let state = initial;
      let from = incident.reportedAt.getTime();
      for (const transition of [...transitions, { at: now, to: incident.state as IncidentState }]) {
        const at = Math.max(transition.at.getTime(), from);
        if (IMPACTING_STATES.includes(state) && at > from) spans.push({ start: from, end: at });
        state = transition.to;
        from = at;
      }
      return spans;
    },
  };
}

/**
 * What is still going on (an open incident, maintenance in progress) counts in the uptime
 * bars up to the last quarter hour, not up to now, and today's bar ends at the next one:
 * during an incident the bars (and their pushes to every open page) then change every 15
 * minutes or on an event, not with every rebuild. What has ended counts exactly.
 */
export const UPTIME_STEP_MS = 15 * 60_000;

/** The last HISTORY_DAYS calendar days in the client's time zone; today ends at the next UPTIME_STEP_MS boundary. */
type CalendarDay = { date: string; start: number; end: number };
/**
 * The last calendar days computed, per time zone. The 90 days' time zone arithmetic cost more
 * than the rest of a build together, and they change only with the day and the quarter hour,
 * while a build runs for every change of every open page.
 */
const calendarCache = new Map<string, { key: string; days: CalendarDay[] }>();

function calendarDays(now: Date, timezone: string): CalendarDay[] {
  const today = DateTime.fromJSDate(now, { zone: timezone }).startOf('day');
  const todayEnd = Math.ceil(now.getTime() / UPTIME_STEP_MS) * UPTIME_STEP_MS;
  const key = `${today.toMillis()}/${todayEnd}`;
  const cached = calendarCache.get(timezone);
  if (cached?.key === key) return cached.days;
  const days = Array.from({ length: HISTORY_DAYS }, (_, i) => {
    const day = today.minus({ days: HISTORY_DAYS - 1 - i });
    return { date: day.toISODate()!, start: day.toMillis(), end: Math.min(day.plus({ days: 1 }).toMillis(), todayEnd) };
  });
  // Shared by the builds of the quarter hour: nobody may change it.
  calendarCache.set(timezone, { key, days: Object.freeze(days.map((day) => Object.freeze(day))) as CalendarDay[] });
  return calendarCache.get(timezone)!.days;
}

function nextTransition(now: Date, timezone: string, maintenances: PublicMaintenance[], expiries: (Date | null | undefined)[]): Date {
  const candidates = [
    DateTime.fromJSDate(now, { zone: timezone }).startOf('day').plus({ days: 1 }).toJSDate(),
    ...maintenances.flatMap((m) => [m.scheduledFor, m.scheduledUntil]),
    ...expiries.filter((at): at is Date => !!at),
  ];
  return new Date(Math.min(...candidates.map((at) => at.getTime()).filter((t) => t > now.getTime())));
}
