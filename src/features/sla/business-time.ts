/**
 * SLA clock arithmetic (clause INC-07): response / resolution targets are
 * counted either around the clock ("24x7") or only inside a client's business
 * hours (time zone, working days, opening hours, holidays).
 *
 * This module is pure: no I/O, no database, no reading of the current time.
 * Every instant is passed in by the caller.
 *
 * Model
 * - Business hours are the half-open local interval [start, end) on every
 *   working day that is not a holiday, in the calendar's IANA time zone.
 *   `end: '24:00'` means the start of the next local day.
 * - Local times are built with luxon: `dayStart.set({ hour, minute })`. A local
 *   time that does not exist (spring-forward gap) resolves as luxon does (it is
 *   shifted forward by the gap); an ambiguous one (fall-back) resolves to its
 *   first occurrence. A business day made shorter or longer by a DST change
 *   counts its real elapsed milliseconds.
 * - Arithmetic walks the calendar one local day at a time (never per minute),
 *   so multi-year spans stay cheap.
 *
 * Invariant: for every calendar, `from` and integer `ms >= 0`,
 * `countedMs(cal, from, addCountedMs(cal, from, ms)) === ms`.
 */
import { DateTime, IANAZone } from 'luxon';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface BusinessCalendar {
  /** IANA zone, e.g. 'Europe/London'. */
  timezone: string;
  /** Working days, e.g. ['mon','tue','wed','thu','fri']. */
  days: Weekday[];
  /** 'HH:MM' local opening time, e.g. '08:00'. */
  start: string;
  /** 'HH:MM' local closing time, > start (e.g. '18:00'); '24:00' = end of day. */
  end: string;
  /** 'YYYY-MM-DD' local dates with no business hours. */
  holidays: string[];
}

/** '24x7' means every millisecond counts. */
export type SlaCalendar = '24x7' | BusinessCalendar;

// ---------------------------------------------------------------------------
// Calendar compilation
// ---------------------------------------------------------------------------

/** luxon weekday numbers: 1 = Monday ... 7 = Sunday. */
const WEEKDAY_NUMBER: Record<Weekday, number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };

const START_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
const END_RE = /^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$/;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

interface Compiled {
  zone: IANAZone;
  /** Indexed by luxon weekday (1..7). */
  working: boolean[];
  startHour: number;
  startMinute: number;
  /** null when end is '24:00' (close = start of the next local day). */
  endHour: number | null;
  endMinute: number;
  /** Opening and closing as minutes after local midnight (closing may be 1440). */
  openMinutes: number;
  closeMinutes: number;
  /** Holidays as yyyymmdd numbers. */
  holidays: Set<number>;
  /** Latest holiday (yyyymmdd), 0 if none. */
  lastHoliday: number;
  /** Days in a row without any business time after which a calendar is considered to have none. */
  maxIdleDays: number;
}

/** Validates a calendar and precomputes what the arithmetic needs (cheap; done per call, so no stale cache). */
function compile(cal: BusinessCalendar): Compiled {
  if (typeof cal.timezone !== 'string' || !IANAZone.isValidZone(cal.timezone)) {
    throw new RangeError(`business calendar: invalid IANA time zone ${JSON.stringify(cal.timezone)}`);
  }
  const working = new Array<boolean>(8).fill(false);
  for (const day of cal.days) {
    const n = Object.hasOwn(WEEKDAY_NUMBER, day) ? WEEKDAY_NUMBER[day] : undefined;
    if (n === undefined) throw new RangeError(`business calendar: invalid weekday ${JSON.stringify(day)}`);
    working[n] = true;
  }
  const s = START_RE.exec(cal.start);
  if (s === null) throw new RangeError(`business calendar: invalid start time ${JSON.stringify(cal.start)} (expected HH:MM)`);
  const e = END_RE.exec(cal.end);
  if (e === null) throw new RangeError(`business calendar: invalid end time ${JSON.stringify(cal.end)} (expected HH:MM or 24:00)`);
  const startHour = Number(s[1]);
  const startMinute = Number(s[2]);
  const endHour = e[1] === undefined ? null : Number(e[1]);
  const endMinute = e[2] === undefined ? 0 : Number(e[2]);
  const endTotal = endHour === null ? 24 * 60 : endHour * 60 + endMinute;
  if (endTotal <= startHour * 60 + startMinute) {
    throw new RangeError(`business calendar: end (${cal.end}) must be after start (${cal.start})`);
  }
  const holidays = new Set<number>();
  for (const h of cal.holidays) {
    if (typeof h !== 'string' || !isIsoDate(h)) {
      throw new RangeError(`business calendar: invalid holiday ${JSON.stringify(h)} (expected YYYY-MM-DD)`);
    }
    holidays.add(Number(h.replace(/-/g, '')));
  }

  const compiled: Compiled = {
    zone: IANAZone.create(cal.timezone),
    working,
    startHour,
    startMinute,
    endHour,
    endMinute,
    openMinutes: startHour * 60 + startMinute,
    closeMinutes: endTotal,
    holidays,
    lastHoliday: [...holidays].reduce((a, b) => Math.max(a, b), 0),
    // A week, plus every holiday, plus slack for days emptied by DST changes.
    maxIdleDays: 14 + holidays.size,
  };
  return compiled;
}

function isIsoDate(s: string): boolean {
  if (!ISO_DATE_RE.test(s)) return false;
  const [y, m, d] = s.split('-').map(Number);
  const u = new Date(Date.UTC(y, m - 1, d));
  return u.getUTCFullYear() === y && u.getUTCMonth() === m - 1 && u.getUTCDate() === d;
}

// ---------------------------------------------------------------------------
// Local days
// ---------------------------------------------------------------------------

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

/** One local calendar day and its business hours. */
interface Day {
  year: number;
  month: number;
  day: number;
  /** luxon weekday, 1 = Monday ... 7 = Sunday. */
  weekday: number;
  /** First instant of the local day (epoch ms). */
  start: number;
  /** First instant of the next local day (epoch ms). */
  next: number;
  /** Business hours [open, close) within [start, next], or null when the day has none. */
  hours: [number, number] | null;
  /** UTC offset (minutes) at `next`, when already known. */
  nextOffset?: number;
}

function dateKey(year: number, month: number, day: number): number {
  return year * 10000 + month * 100 + day;
}

function hasNoHours(c: Compiled, year: number, month: number, day: number, weekday: number): boolean {
  return !c.working[weekday] || (c.holidays.size > 0 && c.holidays.has(dateKey(year, month, day)));
}

/**
 * Exact construction with luxon. The day is anchored on its local noon, which
 * (unlike midnight) is never skipped or repeated by a DST change, so every
 * derived instant is the same whichever instant the day was reached from.
 * Local times are built with `.set({ hour, minute })` on the day's start.
 */
function dayFromNoon(c: Compiled, noon: DateTime): Day {
  const midnight = noon.startOf('day');
  const start = midnight.toMillis();
  const next = noon.plus({ days: 1 }).startOf('day').toMillis();
  const d: Day = { year: noon.year, month: noon.month, day: noon.day, weekday: noon.weekday, start, next, hours: null };
  if (hasNoHours(c, d.year, d.month, d.day, d.weekday)) return d;
  const open = Math.max(start, midnight.set({ hour: c.startHour, minute: c.startMinute }).toMillis());
  const close = c.endHour === null ? next : Math.min(next, midnight.set({ hour: c.endHour, minute: c.endMinute }).toMillis());
  if (close > open) d.hours = [open, close];
  return d;
}

/** The local day containing instant t. */
function dayAt(c: Compiled, t: number): Day {
  // Fast path (see nextDay): local midnight from the offset at t, valid when
  // the offset is the same at that midnight and 24 hours later.
  const offset = c.zone.offset(t);
  const local = new Date(t + offset * MINUTE_MS);
  const year = local.getUTCFullYear();
  const month = local.getUTCMonth() + 1;
  const day = local.getUTCDate();
  const start = Date.UTC(year, month - 1, day) - offset * MINUTE_MS;
  const nextOffset = c.zone.offset(start + DAY_MS);
  if (Number.isInteger(start) && nextOffset === offset && c.zone.offset(start) === offset) {
    return linearDay(c, year, month, day, ((local.getUTCDay() + 6) % 7) + 1, start, nextOffset);
  }
  return dayAtSlow(c, t);
}

function dayAtSlow(c: Compiled, t: number): Day {
  return dayFromNoon(c, DateTime.fromMillis(t, { zone: c.zone }).set({ hour: 12, minute: 0, second: 0, millisecond: 0 }));
}

/** A day of exactly 24 hours with no offset change, starting at `start`. */
function linearDay(c: Compiled, year: number, month: number, day: number, weekday: number, start: number, nextOffset: number): Day {
  const d: Day = { year, month, day, weekday, start, next: start + DAY_MS, hours: null, nextOffset };
  if (!hasNoHours(c, year, month, day, weekday)) {
    d.hours = [start + c.openMinutes * MINUTE_MS, start + c.closeMinutes * MINUTE_MS];
  }
  return d;
}

/**
 * The local day after `prev`. Fast path: when the day starts at 00:00 local
 * and the UTC offset is the same then and 24 hours later, there is no offset
 * change in the day (zones change at most once a day), so the day is exactly
 * 24h long and local times map linearly to instants: the same result luxon
 * gives, much cheaper. Other days go through luxon (dayFromNoon).
 */
function nextDay(c: Compiled, prev: Day): Day {
  const civil = new Date(Date.UTC(prev.year, prev.month - 1, prev.day + 1));
  const start = prev.next;
  const startOffset = prev.nextOffset ?? c.zone.offset(start);
  const nextOffset = c.zone.offset(start + DAY_MS);
  // The day must also really begin at 00:00 local (it does not when midnight
  // was skipped by a DST change, e.g. America/Santiago).
  const localStart = start + startOffset * MINUTE_MS;
  if (startOffset !== nextOffset || localStart % DAY_MS !== 0) {
    return dayAtSlow(c, start); // start is the first instant of the new local day
  }
  const weekday = (prev.weekday % 7) + 1;
  return linearDay(c, civil.getUTCFullYear(), civil.getUTCMonth() + 1, civil.getUTCDate(), weekday, start, nextOffset);
}

function prevDay(c: Compiled, day: Day): Day {
  return dayAt(c, day.start - 1);
}

function noBusinessHours(): Error {
  return new RangeError('business calendar has no business hours (no working days that are not holidays)');
}

function toMs(d: Date, name: string): number {
  const t = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(t)) throw new RangeError(`${name}: invalid date`);
  return t;
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/** Milliseconds of counted time between from and to (0 if to <= from). */
export function countedMs(calendar: SlaCalendar, from: Date, to: Date): number {
  const a = toMs(from, 'from');
  const b = toMs(to, 'to');
  if (b <= a) return 0;
  if (calendar === '24x7') return b - a;
  const c = compile(calendar);
  if (!c.working.some(Boolean)) return 0;

  let total = 0;
  for (let day = dayAt(c, a); day.start < b; day = nextDay(c, day)) {
    if (day.hours === null) continue;
    const lo = Math.max(day.hours[0], a);
    const hi = Math.min(day.hours[1], b);
    if (hi > lo) total += hi - lo;
  }
  return total;
}

/**
 * The instant at which `ms` of counted time will have passed, starting at
 * `from`. ms = 0 returns the first counted instant at or after from (for
 * business hours: from itself if inside hours, else the next opening). When
 * the time runs out exactly at a closing time, that closing time is returned
 * (not the next opening).
 *
 * `ms` must be a non-negative safe integer (Date has millisecond resolution).
 * Throws a RangeError for a calendar that has no business hours at all.
 */
export function addCountedMs(calendar: SlaCalendar, from: Date, ms: number): Date {
  const a = toMs(from, 'from');
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`addCountedMs: ms must be a non-negative integer (got ${ms})`);
  }
  if (calendar === '24x7') return new Date(a + ms);
  const c = compile(calendar);
  if (!c.working.some(Boolean)) throw noBusinessHours();

  let remaining = ms;
  let idle = 0;
  for (let day = dayAt(c, a); ; day = nextDay(c, day)) {
    const lo = day.hours === null ? 0 : Math.max(day.hours[0], a);
    if (day.hours === null || lo >= day.hours[1]) {
      if (++idle > c.maxIdleDays) throw noBusinessHours();
      continue;
    }
    idle = 0;
    const available = day.hours[1] - lo;
    if (remaining < available || (remaining === available && remaining > 0)) return new Date(lo + remaining);
    remaining -= available;
  }
}

/** True when `at` falls inside business hours (always true for 24x7). */
export function isCountedInstant(calendar: SlaCalendar, at: Date): boolean {
  const t = toMs(at, 'at');
  if (calendar === '24x7') return true;
  const c = compile(calendar);
  if (!c.working.some(Boolean)) return false;
  const hours = dayAt(c, t).hours;
  return hours !== null && hours[0] <= t && t < hours[1];
}

/**
 * The next instant >= at at which counting (re)starts or stops: useful to
 * schedule timers; for 24x7 returns null.
 *
 * Only real changes are reported: with 00:00-24:00 hours, midnight between two
 * working days is not a boundary. If `at` itself is a boundary it is returned
 * (pass `at + 1ms` to get the one after). Returns null as well when the state
 * never changes again (no working days, or open around the clock every day
 * with no holiday ahead).
 */
export function nextBoundary(calendar: SlaCalendar, at: Date): Date | null {
  const t = toMs(at, 'at');
  if (calendar === '24x7') return null;
  const c = compile(calendar);
  if (!c.working.some(Boolean)) return null;

  let day = dayAt(c, t);
  const hours = day.hours;
  const countedAt = hours !== null && hours[0] <= t && t < hours[1];
  // Whether t - 1ms was counted (at the day's first instant, that is the
  // previous day's last millisecond: counted if its hours run until midnight).
  const countedBefore =
    t === day.start ? prevDay(c, day).hours?.[1] === t : hours !== null && hours[0] < t && t <= hours[1];
  if (countedAt !== countedBefore) return new Date(t);

  if (countedAt && hours !== null) {
    // Inside business hours: find where this run of contiguous hours stops.
    let runEnd = hours[1];
    let contiguousDays = 0;
    for (;;) {
      if (runEnd !== day.next) return new Date(runEnd);
      day = nextDay(c, day);
      if (day.hours === null || day.hours[0] !== runEnd) return new Date(runEnd);
      runEnd = day.hours[1];
      // Open around the clock every day with no holiday ahead: it never stops.
      if (++contiguousDays > 8 && dateKey(day.year, day.month, day.day) > c.lastHoliday) return null;
    }
  }

  // Outside business hours: the next opening is the next boundary.
  if (hours !== null && t < hours[0]) return new Date(hours[0]);
  let idle = 0;
  for (;;) {
    day = nextDay(c, day);
    if (day.hours !== null) return new Date(day.hours[0]);
    if (++idle > c.maxIdleDays) return null;
  }
}
