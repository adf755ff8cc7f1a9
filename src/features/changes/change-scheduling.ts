/**
 * Scheduling checks (SCH-01..04): maintenance windows in the client's time zone (windows
 * that cross midnight, all-day windows, back-to-back windows that join up), lead time,
 * freezes and conflicts with other changes on the same or dependent CIs. Pure.
 */
import { DateTime } from 'luxon';
import type { ChangeType, FreezeConfig } from '../../config/change-config-schema';
import { parseDuration, WEEKDAYS, type ClientConfig, type MaintenanceWindow } from '../../config/config-schema';

export type ViolationCode = 'outside_maintenance_window' | 'lead_time' | 'freeze' | 'conflict';

export interface ScheduleViolation {
  code: ViolationCode;
  /** Identifies this violation, so an exception (CHG-12) can accept exactly it, e.g. `freeze:quarter-end`. */
  key: string;
  message: string;
}

export interface Window {
  start: Date;
  end: Date;
}

type Interval = [number, number];

/** Occurrences of the recurring windows between `from` and `to`, merged where they touch. */
export function maintenanceIntervals(windows: MaintenanceWindow[], timezone: string, from: Date, to: Date): Interval[] {
  const intervals: Interval[] = [];
  // Start a day early: yesterday's 19:00-05:00 window may cover this morning.
  let day = DateTime.fromJSDate(from, { zone: timezone }).startOf('day').minus({ days: 1 });
  const last = DateTime.fromJSDate(to, { zone: timezone }).startOf('day');
  while (day <= last) {
    const weekday = WEEKDAYS[day.weekday - 1]!;
    for (const window of windows) {
      if (!window.days.includes(weekday)) continue;
      const [startHour, startMinute] = window.start.split(':').map(Number) as [number, number];
      const start = day.set({ hour: startHour, minute: startMinute });
      let end: DateTime;
      if (window.end === '24:00') end = day.plus({ days: 1 }).startOf('day');
      else {
        const [endHour, endMinute] = window.end.split(':').map(Number) as [number, number];
        const crossesMidnight = endHour * 60 + endMinute <= startHour * 60 + startMinute;
        end = (crossesMidnight ? day.plus({ days: 1 }) : day).set({ hour: endHour, minute: endMinute });
      }
      intervals.push([start.toMillis(), end.toMillis()]);
    }
    day = day.plus({ days: 1 });
  }
  intervals.sort((a, b) => a[0] - b[0]);
  const merged: Interval[] = [];
  for (const interval of intervals) {
    const previous = merged[merged.length - 1];
    if (previous && interval[0] <= previous[1]) previous[1] = Math.max(previous[1], interval[1]);
    else merged.push([...interval]);
  }
  return merged;
}

/** Whether the whole window lies inside the client's maintenance windows. */
export function insideMaintenanceWindows(windows: MaintenanceWindow[], timezone: string, window: Window): boolean {
  const start = window.start.getTime();
  const end = window.end.getTime();
  return maintenanceIntervals(windows, timezone, window.start, window.end).some(([from, to]) => from <= start && end <= to);
}

export const overlaps = (a: Window, b: Window) => a.start < b.end && b.start < a.end;

/** Whether `inner` lies within `outer`: work inside an approved window stays inside what was approved. */
export const within = (inner: Window, outer: Window) => inner.start.getTime() >= outer.start.getTime() && inner.end.getTime() <= outer.end.getTime();

/**
 * How far a planned start may lie behind the daemon's clock: the caller's clock and the
 * request's travel time ("start now" for an emergency arrives a little late). Anything older
 * is in the past.
 */
export const PAST_START_TOLERANCE_MS = 60_000;

/**
 * A window is planned from now on, for every change type: nothing is scheduled, submitted
 * or moved into the past. There is no path for recording an emergency change after the fact:
 * the policy wants the ECAB's approval before implementation (CHG-08), and work found without
 * a record is an unauthorized change (REL-02). Not a ScheduleViolation on purpose: no
 * exception (CHG-12) can accept it. Empty when the window is fine.
 */
export function pastWindowProblems(window: Window, now: Date): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (window.start.getTime() < now.getTime() - PAST_START_TOLERANCE_MS) problems.push({ path: 'window.start', message: `the window starts in the past (${window.start.toISOString()}, now ${now.toISOString()}); plan it from now on` });
  else if (window.end.getTime() <= now.getTime()) problems.push({ path: 'window.end', message: `the window ends in the past (${window.end.toISOString()}, now ${now.toISOString()})` });
  return problems;
}

/** The lead time a client's policy asks of a change type: a single duration means normal changes only (SCH-02). */
export function leadTimeFor(leadTime: string | { normal?: string; standard?: string }, type: ChangeType): string | undefined {
  if (typeof leadTime === 'string') return type === 'normal' ? leadTime : undefined;
  return type === 'normal' || type === 'standard' ? leadTime[type] : undefined;
}

/** "3d 4h", for messages. */
export function describeDuration(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const days = Math.floor(hours / 24);
  const parts = [days ? `${days}d` : '', hours % 24 ? `${hours % 24}h` : ''].filter(Boolean);
  return parts.length ? parts.join(' ') : `${Math.max(0, Math.round(ms / 60_000))}m`;
}

export interface ScheduleCheckInput {
  type: ChangeType;
  window: Window;
  /** Notice is counted from submission (SD: changes are submitted two weeks ahead). */
  submittedAt: Date;
  clients: Pick<ClientConfig, 'id' | 'name' | 'timezone' | 'maintenanceWindows' | 'changePolicy'>[];
  freezes: FreezeConfig[];
  /** CIs this change touches plus those related to them by dependencies. */
  relatedCiIds: Set<string>;
  /** Other changes holding a window on the schedule. */
  others: { id: string; ciIds: string[]; window: Window }[];
}

/**
 * Every violation, not just the first: the change manager sees the whole picture before
 * deciding on an exception. Emergency changes are exempt from maintenance windows and lead
 * time (they cannot wait), never from freezes and conflicts.
 */
export function scheduleViolations(input: ScheduleCheckInput): ScheduleViolation[] {
  const violations: ScheduleViolation[] = [];
  const { window } = input;
  const local = (client: { timezone: string }, at: Date) => DateTime.fromJSDate(at, { zone: client.timezone }).toFormat('ccc d LLL HH:mm');
  if (input.type !== 'emergency') {
    for (const client of input.clients) {
      if (client.maintenanceWindows.length && !insideMaintenanceWindows(client.maintenanceWindows, client.timezone, window)) {
        violations.push({
          code: 'outside_maintenance_window',
          key: `outside_maintenance_window:${client.id}`,
          message: `${local(client, window.start)} - ${local(client, window.end)} (${client.timezone}) is outside ${client.name}'s maintenance windows`,
        });
      }
    }
  }
  for (const client of input.clients) {
    const required = leadTimeFor(client.changePolicy.leadTime, input.type);
    if (!required) continue;
    const notice = window.start.getTime() - input.submittedAt.getTime();
    if (notice < parseDuration(required)!) {
      violations.push({ code: 'lead_time', key: `lead_time:${client.id}`, message: `${client.name} needs ${required} notice for ${input.type} changes; this change was submitted ${describeDuration(notice)} before its window` });
    }
  }
  const clientIds = new Set(input.clients.map((client) => client.id));
  for (const freeze of input.freezes) {
    const applies = !freeze.clients || freeze.clients.some((id) => clientIds.has(id));
    if (applies && overlaps(window, { start: new Date(freeze.start), end: new Date(freeze.end) })) {
      violations.push({ code: 'freeze', key: `freeze:${freeze.id}`, message: `the window falls into the freeze "${freeze.name}" (${freeze.id}, ${freeze.start} - ${freeze.end})${freeze.reason ? `: ${freeze.reason}` : ''}` });
    }
  }
  for (const other of input.others) {
    if (!overlaps(window, other.window)) continue;
    const shared = other.ciIds.filter((ci) => input.relatedCiIds.has(ci));
    if (shared.length) {
      violations.push({ code: 'conflict', key: `conflict:${other.id}`, message: `${other.id} works on ${shared.join(', ')} (the same or dependent CIs) at an overlapping time` });
    }
  }
  return violations;
}
