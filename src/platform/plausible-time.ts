/**
 * How far from the daemon's clock an instant a person or a tool sends may lie. The schemas
 * only check that a value is an RFC 3339 timestamp; `9999-12-31` or `1970-01-01` passes
 * that, and is a typo or a placeholder, never a time anyone meant. Which bound applies
 * depends on what the instant means, so the rules are checked where the clock is known:
 *
 * - something that **happened** (an incident was reported, a deploy ran): not later than
 *   now plus the caller's clock skew, not earlier than a year ago;
 * - something **planned** (a change window, a CAB meeting, a due date, an on-call override,
 *   the end of a status override): not earlier than a year ago, not later than two years ahead.
 *
 * Why these numbers: a year back covers any late entry and every report period (SLA reports
 * and KPIs look back months, not years); two years ahead covers the longest planning anyone
 * does here (the next year's CAB calendar, a data-centre move); five minutes is the most a
 * caller's clock should be ahead of ours. Outside, it is a wrong year, not a late entry.
 *
 * Alert webhooks are the exception: Alertmanager drops an alert answered with a 4xx, so an
 * alert's startsAt is never refused; the processor logs an implausible one as "now".
 */

import { ValidationError } from './errors';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export const ALLOWED_CLOCK_SKEW_MS = 5 * MINUTE_MS;
export const HISTORY_HORIZON_MS = 366 * DAY_MS;
export const PLANNING_HORIZON_MS = 2 * 366 * DAY_MS;

export type InstantMeaning = 'happened' | 'planned';

/** Why `at` (given for `path`) cannot be meant, or undefined when it is plausible. */
function implausibleInstant(path: string, at: Date, now: Date, meaning: InstantMeaning): { path: string; message: string } | undefined {
  const latest = now.getTime() + (meaning === 'happened' ? ALLOWED_CLOCK_SKEW_MS : PLANNING_HORIZON_MS);
  const earliest = now.getTime() - HISTORY_HORIZON_MS;
  if (at.getTime() > latest) {
    const why = meaning === 'happened' ? 'lies in the future' : 'lies more than two years ahead';
    return { path, message: `${at.toISOString()} ${why} (now ${now.toISOString()}); latest accepted ${new Date(latest).toISOString()}` };
  }
  if (at.getTime() < earliest) return { path, message: `${at.toISOString()} lies more than a year back (now ${now.toISOString()}); earliest accepted ${new Date(earliest).toISOString()}` };
  return undefined;
}

/** The problems of several instants at once; absent ones (undefined or null) are skipped. */
export function implausibleInstants(now: Date, meaning: InstantMeaning, instants: Record<string, Date | string | null | undefined>): { path: string; message: string }[] {
  return Object.entries(instants).flatMap(([path, value]) => {
    if (value === undefined || value === null) return [];
    const problem = implausibleInstant(path, value instanceof Date ? value : new Date(value), now, meaning);
    return problem ? [problem] : [];
  });
}

/** 400 naming each implausible instant; nothing when all are plausible. */
export function requirePlausibleInstants(now: Date, meaning: InstantMeaning, instants: Record<string, Date | string | null | undefined>): void {
  const problems = implausibleInstants(now, meaning, instants);
  if (problems.length) throw new ValidationError(`${problems.map((problem) => problem.path).join(', ')}: not a plausible time`, problems);
}
