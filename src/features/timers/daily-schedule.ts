/**
 * When a daily job runs: "HH:MM" wall-clock time on a local day in an IANA zone (the MSP's
 * `timezone`), turned into an instant with luxon. Pure: no I/O, no clock.
 *
 * DST, so that every local day has exactly one deterministic instant (the job_run claim key):
 * - A time that does not exist on the spring-forward day (02:30 in Berlin on the last Sunday
 *   of March) moves forward by the gap (03:30), as luxon does, so that day still has its run.
 * - A time that exists twice on the fall-back day takes the first occurrence, when the clock
 *   first shows it (luxon alone would pick the second).
 */
import { DateTime } from 'luxon';

const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Midnight starting local day `day` in `zone` (luxon: an unknown zone gives an invalid DateTime). */
function startOfDay(day: string, zone: string): DateTime {
  const start = DAY_RE.test(day) ? DateTime.fromISO(day, { zone }) : null;
  if (start?.invalidReason === 'unsupported zone') throw new Error(`unknown time zone "${zone}"`);
  if (!start?.isValid) throw new Error(`expected a date like 2026-03-02, got "${day}"`);
  return start;
}

/** The instant of the run at `at` ("HH:MM") on local day `day` ("YYYY-MM-DD") in `zone`. */
export function scheduledInstant(day: string, at: string, zone: string): Date {
  const time = TIME_RE.exec(at);
  if (!time) throw new Error(`expected a time like 08:00, got "${at}"`);
  const local = startOfDay(day, zone).set({ hour: Number(time[1]), minute: Number(time[2]) });
  // One candidate on an ordinary day or in a gap (already moved forward), two in a fall-back overlap.
  return new Date(Math.min(...local.getPossibleOffsets().map((candidate) => candidate.toMillis())));
}

/** The local day (YYYY-MM-DD) an instant falls on in `zone`. */
export function localDayOf(instant: Date, zone: string): string {
  const local = DateTime.fromJSDate(instant, { zone });
  if (!local.isValid) throw new Error(`unknown time zone "${zone}"`);
  return local.toISODate()!;
}

/** The local day `now` falls on in `zone`, and the instant of that day's run. */
export function todaysRun(now: Date, at: string, zone: string): { day: string; scheduledFor: Date } {
  const day = localDayOf(now, zone);
  return { day, scheduledFor: scheduledInstant(day, at, zone) };
}

/** The local day `day` in `zone` as [start, end): 23 or 25 hours long on DST days. */
export function localDay(day: string, zone: string): { start: Date; end: Date } {
  const start = startOfDay(day, zone).startOf('day');
  return { start: start.toJSDate(), end: start.plus({ days: 1 }).toJSDate() };
}
