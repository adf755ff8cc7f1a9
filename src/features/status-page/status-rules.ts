/**
 * Pure status page rules: how incidents, maintenance and overrides become component
 * statuses, the page's overall indicator, an update's public status, and uptime per day.
 * No database, HTTP or clock here; everything is a function of its arguments.
 */
import type { ComponentStatus } from '../../config/status-page-config-schema';
import { PUBLIC_STATUSES, type IncidentState, type PublicStatus } from '../incidents/incident-rules';

export type MaintenanceStatus = 'scheduled' | 'in_progress' | 'completed';
export type Indicator = 'none' | 'minor' | 'major' | 'critical' | 'maintenance';
export type Impact = 'none' | 'minor' | 'major' | 'critical';

/**
 * Incidents that still hurt the service. A mitigated incident is open (staff are still
 * watching it, and the page says "monitoring"), but the service works again, so it no
 * longer colours its components.
 */
export const IMPACTING_STATES: readonly IncidentState[] = ['new', 'triaged', 'investigating'];

/** Least to most severe; maintenance ranks below any outage, which users need to know about first. */
const RANK: readonly ComponentStatus[] = ['operational', 'under_maintenance', 'degraded_performance', 'partial_outage', 'major_outage'];

export function worstStatus(statuses: Iterable<ComponentStatus>): ComponentStatus {
  let worst: ComponentStatus = 'operational';
  for (const status of statuses) if (RANK.indexOf(status) > RANK.indexOf(worst)) worst = status;
  return worst;
}

export const STATUS_LABELS: Record<ComponentStatus, string> = {
  operational: 'Operational',
  degraded_performance: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
  under_maintenance: 'Under maintenance',
};

/** The component's status: a live staff override wins; else the worst of its incidents and maintenance. */
export function componentStatus(input: { override: ComponentStatus | null; incidentStatuses: ComponentStatus[]; inMaintenance: boolean }): ComponentStatus {
  if (input.override) return input.override;
  return worstStatus([...input.incidentStatuses, ...(input.inMaintenance ? (['under_maintenance'] as const) : [])]);
}

/** The banner, with Statuspage's indicator values and wording. */
export function overallStatus(statuses: ComponentStatus[]): { indicator: Indicator; description: string } {
  switch (worstStatus(statuses)) {
    case 'major_outage':
      return { indicator: 'critical', description: 'Major System Outage' };
    case 'partial_outage':
      return { indicator: 'major', description: 'Partial System Outage' };
    case 'degraded_performance':
      return { indicator: 'minor', description: 'Minor Service Outage' };
    case 'under_maintenance':
      return { indicator: 'maintenance', description: 'Service Under Maintenance' };
    default:
      return { indicator: 'none', description: 'All Systems Operational' };
  }
}

/** A public update's status as stored in its data (POST /incidents/{id}/updates), if it has one. */
export function isPublicStatus(value: unknown): value is PublicStatus {
  return typeof value === 'string' && (PUBLIC_STATUSES as readonly string[]).includes(value);
}

/** What the page says of incidents, updates and maintenance: the one place for these words. */
export const PUBLIC_STATUS_LABELS: Record<PublicStatus | MaintenanceStatus, string> = {
  investigating: 'Investigating',
  identified: 'Identified',
  monitoring: 'Monitoring',
  resolved: 'Resolved',
  scheduled: 'Scheduled',
  in_progress: 'In progress',
  completed: 'Completed',
};

/** Statuspage's incident impact from our severity (1 = critical). */
export function impactOfSeverity(severity: number): Impact {
  return (['critical', 'major', 'minor', 'none'] as const)[Math.min(Math.max(severity, 1), 4) - 1]!;
}

/** Maintenance starts and ends by the clock. */
export function maintenanceStatusAt(window: { start: Date; end: Date }, now: Date): MaintenanceStatus {
  if (now.getTime() < window.start.getTime()) return 'scheduled';
  return now.getTime() < window.end.getTime() ? 'in_progress' : 'completed';
}

// ---------------------------------------------------------------------------
// Uptime
// ---------------------------------------------------------------------------

/** A span of time (ms since epoch) in which a component had (at least) this status. */
export interface StatusSpan {
  start: number;
  end: number;
  status: ComponentStatus;
}

export interface UptimeDay {
  /** Calendar day in the client's time zone, YYYY-MM-DD. */
  date: string;
  /** The worst status of the day. */
  status: ComponentStatus;
  /** Milliseconds spent in each non-operational status (overlaps counted once, at the worse status). */
  durations: Partial<Record<ComponentStatus, number>>;
}

/**
 * Per day: the worst status and how long each status lasted, where overlapping spans count
 * once at the worse status. Uptime counts a major outage fully and a partial outage by
 * `partialOutageWeight` (Statuspage counts it at 30%); degraded performance is up.
 * Maintenance time leaves the denominator when `excludeMaintenance` is set.
 */
export function uptime(
  spans: StatusSpan[],
  days: { date: string; start: number; end: number }[],
  options: { partialOutageWeight: number; excludeMaintenance: boolean },
): { days: UptimeDay[]; percent: number } {
  let total = 0;
  let down = 0;
  const result = days.map((day) => {
    const inDay = spans.filter((span) => span.start < day.end && span.end > day.start);
    const cuts = [...new Set([day.start, day.end, ...inDay.flatMap((span) => [span.start, span.end]).filter((t) => t > day.start && t < day.end)])].sort((a, b) => a - b);
    const durations: Partial<Record<ComponentStatus, number>> = {};
    for (let i = 0; i + 1 < cuts.length; i += 1) {
      const [from, to] = [cuts[i]!, cuts[i + 1]!];
      const status = worstStatus(inDay.filter((span) => span.start <= from && span.end >= to).map((span) => span.status));
      if (status !== 'operational') durations[status] = (durations[status] ?? 0) + (to - from);
    }
    total += day.end - day.start - (options.excludeMaintenance ? (durations.under_maintenance ?? 0) : 0);
    down += (durations.major_outage ?? 0) + options.partialOutageWeight * (durations.partial_outage ?? 0);
    return { date: day.date, status: worstStatus(Object.keys(durations) as ComponentStatus[]), durations };
  });
  const percent = total > 0 ? Math.floor(10_000 * (1 - down / total)) / 100 : 100;
  return { days: result, percent };
}
