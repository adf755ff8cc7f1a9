import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import {
  addCountedMs,
  countedMs,
  isCountedInstant,
  nextBoundary,
  type BusinessCalendar,
  type SlaCalendar,
  type Weekday,
} from '../../src/features/sla/business-time';

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const WEEKDAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
const ALL_DAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const london: BusinessCalendar = { timezone: 'Europe/London', days: WEEKDAYS, start: '08:00', end: '18:00', holidays: [] };

/** A local wall-clock time in a zone, e.g. at('Europe/London', '2026-01-09T16:00'). */
function at(zone: string, local: string): Date {
  const dt = DateTime.fromISO(local, { zone });
  if (!dt.isValid) throw new Error(`bad test time ${local}`);
  return dt.toJSDate();
}
const lon = (local: string): Date => at('Europe/London', local);
const utc = (iso: string): Date => new Date(iso);

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('24x7', () => {
  const from = utc('2026-03-28T22:15:00Z');
  it('counts every millisecond', () => {
    expect(countedMs('24x7', from, utc('2026-03-30T02:15:00Z'))).toBe(28 * HOUR);
    expect(addCountedMs('24x7', from, 4 * HOUR).toISOString()).toBe('2026-03-29T02:15:00.000Z');
    expect(addCountedMs('24x7', from, 0).getTime()).toBe(from.getTime());
    expect(isCountedInstant('24x7', utc('2026-12-25T03:00:00Z'))).toBe(true);
    expect(nextBoundary('24x7', from)).toBeNull();
  });
  it('returns 0 when to <= from', () => {
    expect(countedMs('24x7', from, from)).toBe(0);
    expect(countedMs('24x7', from, utc('2026-03-28T22:14:59.999Z'))).toBe(0);
  });
});

describe('business hours: Europe/London 08:00-18:00 mon-fri', () => {
  it('a 4h target starting Friday 16:00 ends Monday 10:00', () => {
    const from = lon('2026-01-09T16:00'); // Friday
    const due = addCountedMs(london, from, 4 * HOUR);
    expect(due.toISOString()).toBe(lon('2026-01-12T10:00').toISOString()); // Monday
    expect(due.toISOString()).toBe('2026-01-12T10:00:00.000Z');
    expect(countedMs(london, from, due)).toBe(4 * HOUR);
  });

  it('a 4h target across the spring-forward weekend ends Monday 10:00 BST', () => {
    const due = addCountedMs(london, lon('2026-03-27T16:00'), 4 * HOUR); // Friday, GMT
    expect(due.toISOString()).toBe('2026-03-30T09:00:00.000Z'); // Monday 10:00 BST
  });

  it('starts counting at the opening when started before opening', () => {
    const from = lon('2026-01-12T07:00'); // Monday
    expect(addCountedMs(london, from, HOUR).toISOString()).toBe(lon('2026-01-12T09:00').toISOString());
    expect(addCountedMs(london, from, 0).toISOString()).toBe(lon('2026-01-12T08:00').toISOString());
    expect(countedMs(london, from, lon('2026-01-12T08:30'))).toBe(30 * MINUTE);
    expect(countedMs(london, from, lon('2026-01-12T08:00'))).toBe(0);
  });

  it('continues next working day when started after closing', () => {
    const from = lon('2026-01-12T19:00'); // Monday evening
    expect(addCountedMs(london, from, HOUR).toISOString()).toBe(lon('2026-01-13T09:00').toISOString());
    expect(addCountedMs(london, from, 0).toISOString()).toBe(lon('2026-01-13T08:00').toISOString());
    expect(countedMs(london, from, lon('2026-01-13T07:59'))).toBe(0);
  });

  it('ms = 0 inside hours returns from itself; using up a day exactly returns the closing time', () => {
    const from = lon('2026-01-12T11:23');
    expect(addCountedMs(london, from, 0).getTime()).toBe(from.getTime());
    expect(addCountedMs(london, lon('2026-01-12T08:00'), 10 * HOUR).toISOString()).toBe(lon('2026-01-12T18:00').toISOString());
    expect(addCountedMs(london, lon('2026-01-12T08:00'), 10 * HOUR + 1).toISOString()).toBe(
      new Date(lon('2026-01-13T08:00').getTime() + 1).toISOString(),
    );
  });

  it('skips weekends', () => {
    expect(addCountedMs(london, lon('2026-01-10T12:00'), HOUR).toISOString()).toBe(lon('2026-01-12T09:00').toISOString()); // Saturday
    expect(countedMs(london, lon('2026-01-09T17:00'), lon('2026-01-12T09:00'))).toBe(2 * HOUR);
    expect(countedMs(london, lon('2026-01-10T00:00'), lon('2026-01-12T00:00'))).toBe(0);
    // A full week, and a 10-business-day resolution target.
    expect(countedMs(london, lon('2026-01-12T00:00'), lon('2026-01-19T00:00'))).toBe(50 * HOUR);
    expect(addCountedMs(london, lon('2026-01-12T08:00'), 100 * HOUR).toISOString()).toBe(lon('2026-01-23T18:00').toISOString());
  });

  it('skips holidays in the middle (Christmas 2026: Fri 25, Sat 26, Mon 28 substitute)', () => {
    const xmas: BusinessCalendar = { ...london, holidays: ['2026-12-25', '2026-12-26'] };
    const from = lon('2026-12-24T16:00'); // Thursday
    expect(addCountedMs(xmas, from, 4 * HOUR).toISOString()).toBe(lon('2026-12-28T10:00').toISOString());
    expect(addCountedMs(london, from, 4 * HOUR).toISOString()).toBe(lon('2026-12-25T10:00').toISOString());
    const withSubstitute: BusinessCalendar = { ...london, holidays: ['2026-12-25', '2026-12-26', '2026-12-28'] };
    expect(addCountedMs(withSubstitute, from, 4 * HOUR).toISOString()).toBe(lon('2026-12-29T10:00').toISOString());
    expect(countedMs(withSubstitute, lon('2026-12-21T00:00'), lon('2027-01-04T00:00'))).toBe(8 * 10 * HOUR);
    expect(isCountedInstant(xmas, lon('2026-12-25T12:00'))).toBe(false);
    expect(isCountedInstant(xmas, lon('2026-12-24T12:00'))).toBe(true);
  });

  it('isCountedInstant uses [start, end)', () => {
    expect(isCountedInstant(london, lon('2026-01-12T07:59:59.999'))).toBe(false);
    expect(isCountedInstant(london, lon('2026-01-12T08:00'))).toBe(true);
    expect(isCountedInstant(london, lon('2026-01-12T17:59:59.999'))).toBe(true);
    expect(isCountedInstant(london, lon('2026-01-12T18:00'))).toBe(false);
    expect(isCountedInstant(london, lon('2026-01-10T12:00'))).toBe(false); // Saturday
  });

  it('countedMs is 0 when from > to', () => {
    expect(countedMs(london, lon('2026-01-13T12:00'), lon('2026-01-12T12:00'))).toBe(0);
  });

  it('handles long spans quickly (2 years, per-day iteration)', () => {
    const t0 = performance.now();
    // 2025 and 2026 have 261 weekdays each.
    expect(countedMs(london, utc('2025-01-01T00:00:00Z'), utc('2027-01-01T00:00:00Z'))).toBe(522 * 10 * HOUR);
    expect(addCountedMs(london, utc('2025-01-01T00:00:00Z'), 522 * 10 * HOUR).toISOString()).toBe(lon('2026-12-31T18:00').toISOString());
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('DST', () => {
  const allDay = (timezone: string, days: Weekday[] = ALL_DAYS): BusinessCalendar => ({
    timezone,
    days,
    start: '00:00',
    end: '24:00',
    holidays: [],
  });

  it('Europe/London: spring-forward day counts 23h, fall-back day 25h', () => {
    const cal = allDay('Europe/London');
    expect(countedMs(cal, lon('2026-03-29T00:00'), lon('2026-03-30T00:00'))).toBe(23 * HOUR);
    expect(countedMs(cal, lon('2026-10-25T00:00'), lon('2026-10-26T00:00'))).toBe(25 * HOUR);
    // Sunday-only calendar: the whole week counts only the (short / long) Sunday.
    const sundays = allDay('Europe/London', ['sun']);
    expect(countedMs(sundays, lon('2026-03-23T00:00'), lon('2026-03-30T00:00'))).toBe(23 * HOUR);
    expect(countedMs(sundays, lon('2026-10-19T00:00'), lon('2026-10-26T00:00'))).toBe(25 * HOUR);
    expect(countedMs(sundays, lon('2026-03-16T00:00'), lon('2026-03-23T00:00'))).toBe(24 * HOUR);
    // 24h of counted time from Sunday 00:00 runs to Monday 01:00 (spring) / Sunday 23:00 (fall).
    expect(addCountedMs(cal, lon('2026-03-29T00:00'), 24 * HOUR).toISOString()).toBe(lon('2026-03-30T01:00').toISOString());
    expect(addCountedMs(sundays, lon('2026-03-29T00:00'), 24 * HOUR).toISOString()).toBe(
      lon('2026-04-05T01:00').toISOString(),
    );
    expect(addCountedMs(cal, lon('2026-10-25T00:00'), 24 * HOUR).toISOString()).toBe('2026-10-25T23:00:00.000Z');
  });

  it('Europe/London: hours covering 01:00-02:00 on the DST days resolve as luxon does', () => {
    const night: BusinessCalendar = { timezone: 'Europe/London', days: ['sun'], start: '01:00', end: '03:00', holidays: [] };
    // Spring forward: 01:00 local does not exist and becomes 02:00 BST; 02:00-03:00 BST = 1h.
    expect(countedMs(night, lon('2026-03-29T00:00'), lon('2026-03-30T00:00'))).toBe(HOUR);
    expect(addCountedMs(night, lon('2026-03-29T00:00'), 0).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    // Fall back: 01:00 is the first (BST) occurrence, 03:00 GMT: 3h of real time.
    expect(countedMs(night, lon('2026-10-25T00:00'), lon('2026-10-26T00:00'))).toBe(3 * HOUR);
    expect(addCountedMs(night, lon('2026-10-25T00:00'), 0).toISOString()).toBe('2026-10-25T00:00:00.000Z');
    expect(addCountedMs(night, lon('2026-10-25T00:00'), 3 * HOUR).toISOString()).toBe('2026-10-25T03:00:00.000Z');
    // An ordinary Sunday: 2h.
    expect(countedMs(night, lon('2026-10-18T00:00'), lon('2026-10-19T00:00'))).toBe(2 * HOUR);
  });

  it('America/New_York: 2026-03-08 is 23h, 2026-11-01 is 25h', () => {
    const ny = (local: string): Date => at('America/New_York', local);
    const cal = allDay('America/New_York');
    expect(countedMs(cal, ny('2026-03-08T00:00'), ny('2026-03-09T00:00'))).toBe(23 * HOUR);
    expect(countedMs(cal, ny('2026-11-01T00:00'), ny('2026-11-02T00:00'))).toBe(25 * HOUR);
    const sundays = allDay('America/New_York', ['sun']);
    expect(countedMs(sundays, ny('2026-03-02T00:00'), ny('2026-03-16T00:00'))).toBe(47 * HOUR);
    expect(countedMs(sundays, ny('2026-10-26T00:00'), ny('2026-11-09T00:00'))).toBe(49 * HOUR);
    // Office hours: Friday 16:00 EST + 4h lands Monday 10:00 EDT.
    const office: BusinessCalendar = { timezone: 'America/New_York', days: WEEKDAYS, start: '09:00', end: '17:00', holidays: [] };
    expect(addCountedMs(office, ny('2026-03-06T16:00'), 4 * HOUR).toISOString()).toBe('2026-03-09T16:00:00.000Z');
    expect(addCountedMs(office, ny('2026-10-30T16:00'), 4 * HOUR).toISOString()).toBe('2026-11-02T17:00:00.000Z');
    // 02:00-04:00 on the spring-forward Sunday: 02:00 does not exist (-> 03:00 EDT), 1h.
    const night: BusinessCalendar = { timezone: 'America/New_York', days: ['sun'], start: '02:00', end: '04:00', holidays: [] };
    expect(countedMs(night, ny('2026-03-08T00:00'), ny('2026-03-09T00:00'))).toBe(HOUR);
  });
});

describe('DST at midnight (America/Santiago)', () => {
  const scl = (local: string): Date => at('America/Santiago', local);
  const early: BusinessCalendar = { timezone: 'America/Santiago', days: ALL_DAYS, start: '00:00', end: '01:30', holidays: [] };
  it('a day whose midnight does not exist starts at 01:00 (luxon) and counts 30 minutes', () => {
    // 2028-09-03 00:00 -04 -> 01:00 -03.
    expect(countedMs(early, scl('2028-09-02T12:00'), scl('2028-09-05T12:00'))).toBe(3 * HOUR + 30 * MINUTE);
    expect(countedMs(early, scl('2026-09-05T12:00'), scl('2026-09-06T12:00'))).toBe(30 * MINUTE);
    expect(addCountedMs(early, scl('2026-09-05T12:00'), 0).toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(isCountedInstant(early, utc('2026-09-06T04:29:59.999Z'))).toBe(true);
    expect(isCountedInstant(early, utc('2026-09-06T04:30:00.000Z'))).toBe(false);
  });
  it('a day with a repeated hour at its end (2026-04-04 is 25h long)', () => {
    const allDay: BusinessCalendar = { ...early, end: '24:00' };
    expect(countedMs(allDay, scl('2026-04-04T00:00'), scl('2026-04-05T00:00'))).toBe(25 * HOUR);
    expect(countedMs(early, scl('2026-04-03T12:00'), scl('2026-04-06T12:00'))).toBe(3 * 90 * MINUTE);
  });
});

describe('other calendars', () => {
  it('a calendar whose only working day is Saturday', () => {
    const sat: BusinessCalendar = { timezone: 'Europe/London', days: ['sat'], start: '09:00', end: '13:00', holidays: [] };
    const from = lon('2026-01-05T10:00'); // Monday
    expect(addCountedMs(sat, from, 6 * HOUR).toISOString()).toBe(lon('2026-01-17T11:00').toISOString());
    expect(countedMs(sat, from, lon('2026-01-17T11:00'))).toBe(6 * HOUR);
    expect(isCountedInstant(sat, lon('2026-01-10T12:59'))).toBe(true);
    expect(isCountedInstant(sat, lon('2026-01-09T12:00'))).toBe(false);
    expect(nextBoundary(sat, from)?.toISOString()).toBe(lon('2026-01-10T09:00').toISOString());
    // Dec 26 2026 is a Saturday: as a holiday it is skipped.
    const satXmas: BusinessCalendar = { ...sat, holidays: ['2026-12-25', '2026-12-26'] };
    expect(addCountedMs(satXmas, lon('2026-12-21T00:00'), HOUR).toISOString()).toBe(lon('2027-01-02T10:00').toISOString());
  });

  it("end '24:00' means end of day", () => {
    const evening: BusinessCalendar = { timezone: 'Europe/London', days: WEEKDAYS, start: '20:00', end: '24:00', holidays: [] };
    const from = lon('2026-01-09T23:00'); // Friday
    expect(isCountedInstant(evening, lon('2026-01-09T23:59:59.999'))).toBe(true);
    expect(isCountedInstant(evening, lon('2026-01-10T00:00'))).toBe(false);
    expect(addCountedMs(evening, from, HOUR).toISOString()).toBe(lon('2026-01-10T00:00').toISOString());
    expect(addCountedMs(evening, from, 2 * HOUR).toISOString()).toBe(lon('2026-01-12T21:00').toISOString());
    expect(countedMs(evening, from, lon('2026-01-12T21:00'))).toBe(2 * HOUR);
    expect(nextBoundary(evening, from)?.toISOString()).toBe(lon('2026-01-10T00:00').toISOString());
    expect(nextBoundary(evening, lon('2026-01-10T00:00'))?.toISOString()).toBe(lon('2026-01-10T00:00').toISOString()); // closing
    expect(nextBoundary(evening, lon('2026-01-10T00:00:00.001'))?.toISOString()).toBe(lon('2026-01-12T20:00').toISOString());
    // A whole-day calendar on weekdays counts exactly the real weekday durations.
    const weekdaysAllDay: BusinessCalendar = { timezone: 'Europe/London', days: WEEKDAYS, start: '00:00', end: '24:00', holidays: [] };
    expect(countedMs(weekdaysAllDay, lon('2026-01-12T00:00'), lon('2026-01-19T00:00'))).toBe(5 * DAY);
    expect(addCountedMs(weekdaysAllDay, lon('2026-01-16T12:00'), 12 * HOUR).toISOString()).toBe(lon('2026-01-17T00:00').toISOString());
    expect(addCountedMs(weekdaysAllDay, lon('2026-01-16T12:00'), 12 * HOUR + 1).getTime()).toBe(lon('2026-01-19T00:00').getTime() + 1);
  });

  it('rejects invalid calendars and arguments', () => {
    expect(() => countedMs({ ...london, timezone: 'Mars/Olympus' }, lon('2026-01-12T00:00'), lon('2026-01-13T00:00'))).toThrow(RangeError);
    expect(() => countedMs({ ...london, start: '18:00', end: '08:00' }, lon('2026-01-12T00:00'), lon('2026-01-13T00:00'))).toThrow(RangeError);
    expect(() => countedMs({ ...london, start: '8:00' }, lon('2026-01-12T00:00'), lon('2026-01-13T00:00'))).toThrow(RangeError);
    expect(() => countedMs({ ...london, holidays: ['2026-02-30'] }, lon('2026-01-12T00:00'), lon('2026-01-13T00:00'))).toThrow(RangeError);
    expect(() => addCountedMs(london, lon('2026-01-12T00:00'), -1)).toThrow(RangeError);
    expect(() => addCountedMs(london, lon('2026-01-12T00:00'), 1.5)).toThrow(RangeError);
    expect(() => addCountedMs(london, new Date(NaN), 1)).toThrow(RangeError);
    const never: BusinessCalendar = { ...london, days: [] };
    expect(countedMs(never, lon('2026-01-12T00:00'), lon('2027-01-12T00:00'))).toBe(0);
    expect(isCountedInstant(never, lon('2026-01-12T12:00'))).toBe(false);
    expect(nextBoundary(never, lon('2026-01-12T12:00'))).toBeNull();
    expect(() => addCountedMs(never, lon('2026-01-12T00:00'), 1)).toThrow(RangeError);
  });
});

describe('nextBoundary', () => {
  it('reports openings and closings of London office hours', () => {
    expect(nextBoundary(london, lon('2026-01-12T07:00'))?.toISOString()).toBe(lon('2026-01-12T08:00').toISOString());
    expect(nextBoundary(london, lon('2026-01-12T08:00'))?.toISOString()).toBe(lon('2026-01-12T08:00').toISOString()); // >= at
    expect(nextBoundary(london, lon('2026-01-12T12:00'))?.toISOString()).toBe(lon('2026-01-12T18:00').toISOString());
    expect(nextBoundary(london, lon('2026-01-12T18:00'))?.toISOString()).toBe(lon('2026-01-12T18:00').toISOString());
    expect(nextBoundary(london, lon('2026-01-12T18:00:00.001'))?.toISOString()).toBe(lon('2026-01-13T08:00').toISOString());
    expect(nextBoundary(london, lon('2026-01-09T18:30'))?.toISOString()).toBe(lon('2026-01-12T08:00').toISOString()); // Friday
    expect(nextBoundary(london, lon('2026-03-28T12:00'))?.toISOString()).toBe('2026-03-30T07:00:00.000Z'); // Monday 08:00 BST
    const xmas: BusinessCalendar = { ...london, holidays: ['2026-12-25', '2026-12-28'] };
    expect(nextBoundary(xmas, lon('2026-12-24T18:00:01'))?.toISOString()).toBe(lon('2026-12-29T08:00').toISOString());
  });

  it('does not report midnight between contiguous whole days', () => {
    const weekdaysAllDay: BusinessCalendar = { timezone: 'Europe/London', days: WEEKDAYS, start: '00:00', end: '24:00', holidays: [] };
    expect(nextBoundary(weekdaysAllDay, lon('2026-01-14T12:00'))?.toISOString()).toBe(lon('2026-01-17T00:00').toISOString());
    expect(nextBoundary(weekdaysAllDay, lon('2026-01-13T00:00'))?.toISOString()).toBe(lon('2026-01-17T00:00').toISOString());
    expect(nextBoundary(weekdaysAllDay, lon('2026-01-12T00:00'))?.toISOString()).toBe(lon('2026-01-12T00:00').toISOString());
    expect(nextBoundary(weekdaysAllDay, lon('2026-01-10T09:00'))?.toISOString()).toBe(lon('2026-01-12T00:00').toISOString());

    const always: BusinessCalendar = { timezone: 'America/New_York', days: ALL_DAYS, start: '00:00', end: '24:00', holidays: [] };
    expect(nextBoundary(always, utc('2026-03-01T00:00:00Z'))).toBeNull();
    const alwaysButXmas: BusinessCalendar = { ...always, holidays: ['2026-12-25'] };
    expect(nextBoundary(alwaysButXmas, utc('2026-03-01T00:00:00Z'))?.toISOString()).toBe(
      at('America/New_York', '2026-12-25T00:00').toISOString(),
    );
    expect(nextBoundary(alwaysButXmas, at('America/New_York', '2026-12-25T10:00'))?.toISOString()).toBe(
      at('America/New_York', '2026-12-26T00:00').toISOString(),
    );
  });
});

// ---------------------------------------------------------------------------
// Properties over seeded pseudo-random inputs
// ---------------------------------------------------------------------------

const PROPERTY_CALENDARS: Array<[string, SlaCalendar]> = [
  ['24x7', '24x7'],
  ['london office', { ...london, holidays: ['2026-12-25', '2026-12-26', '2026-12-28', '2027-01-01', '2026-04-03', '2026-04-06'] }],
  ['london night sundays', { timezone: 'Europe/London', days: ['sun', 'sat'], start: '00:30', end: '02:30', holidays: [] }],
  ['new york all day', { timezone: 'America/New_York', days: ['mon', 'wed', 'sat', 'sun'], start: '00:00', end: '24:00', holidays: ['2026-11-01'] }],
  ['new york evening', { timezone: 'America/New_York', days: WEEKDAYS, start: '17:45', end: '24:00', holidays: [] }],
  ['saturday only', { timezone: 'Europe/London', days: ['sat'], start: '09:00', end: '13:00', holidays: ['2026-12-26'] }],
  ['sydney', { timezone: 'Australia/Sydney', days: WEEKDAYS, start: '01:30', end: '03:15', holidays: [] }],
  ['lord howe (30 min DST)', { timezone: 'Australia/Lord_Howe', days: ALL_DAYS, start: '01:15', end: '02:45', holidays: [] }],
  ['santiago (DST at midnight)', { timezone: 'America/Santiago', days: ALL_DAYS, start: '00:00', end: '01:30', holidays: [] }],
  ['chatham (+12:45)', { timezone: 'Pacific/Chatham', days: ['tue', 'thu'], start: '02:45', end: '04:00', holidays: [] }],
  ['kolkata', { timezone: 'Asia/Kolkata', days: ['sun', 'mon', 'tue', 'wed', 'thu'], start: '09:30', end: '18:30', holidays: [] }],
];

/** Instants in 2025-2028, biased towards DST changes, aligned to 15 minutes. */
function randomInstant(next: () => number): number {
  const QUARTER = 15 * MINUTE;
  const dstDays = [
    '2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z',
    '2026-04-04T16:00:00Z', '2026-10-03T16:00:00Z', '2026-04-05T03:00:00Z', '2026-09-06T04:00:00Z',
    '2026-04-04T13:45:00Z', '2026-09-26T14:00:00Z',
  ].map((s) => Date.parse(s));
  let t: number;
  if (next() < 0.5) {
    t = dstDays[Math.floor(next() * dstDays.length)] + (next() - 0.5) * 4 * DAY;
  } else {
    t = Date.parse('2025-01-01T00:00:00Z') + next() * 4 * 365 * DAY;
  }
  return Math.round(t / QUARTER) * QUARTER;
}

/**
 * Independent reference: walks local dates with luxon only (no fast paths), building each
 * day's hours with .set({ hour, minute }) on the day's start, and sums the overlaps.
 */
function referenceCountedMs(cal: BusinessCalendar, from: number, to: number): number {
  const [sh, sm] = cal.start.split(':').map(Number);
  const [eh, em] = cal.end.split(':').map(Number);
  let total = 0;
  let noon = DateTime.fromMillis(from, { zone: cal.timezone }).set({ hour: 12, minute: 0, second: 0, millisecond: 0 });
  for (;;) {
    const dayStart = noon.startOf('day');
    if (dayStart.toMillis() >= to) return total;
    const nextStart = noon.plus({ days: 1 }).startOf('day');
    const weekday = ALL_DAYS[noon.weekday - 1];
    if (cal.days.includes(weekday) && !cal.holidays.includes(noon.toISODate() ?? '')) {
      const open = dayStart.set({ hour: sh, minute: sm }).toMillis();
      const close = eh === 24 ? nextStart.toMillis() : dayStart.set({ hour: eh, minute: em }).toMillis();
      total += Math.max(0, Math.min(close, to) - Math.max(open, from));
    }
    noon = noon.plus({ days: 1 });
  }
}

describe('properties (seeded)', () => {
  it.each(PROPERTY_CALENDARS)('round trip countedMs(from, addCountedMs(from, ms)) === ms: %s', (_name, cal) => {
    const next = rng(0x5eed + _name.length);
    for (let i = 0; i < 250; i++) {
      const from = new Date(randomInstant(next) + (next() < 0.3 ? Math.floor(next() * HOUR) : 0));
      const r = next();
      // 0, a few hours, or what a random real span of up to 3 weeks holds (often ending
      // exactly at a closing time), give or take a little.
      const ms =
        r < 0.1
          ? 0
          : r < 0.4
            ? Math.floor(next() * 12 * HOUR)
            : Math.max(0, countedMs(cal, from, new Date(from.getTime() + Math.floor(next() * 21 * DAY))) + (next() < 0.5 ? 0 : Math.floor((next() - 0.5) * 2 * HOUR)));
      const due = addCountedMs(cal, from, ms);
      expect(due.getTime()).toBeGreaterThanOrEqual(from.getTime());
      expect(countedMs(cal, from, due)).toBe(ms);
      if (ms > 0) {
        // Earliest such instant.
        expect(countedMs(cal, from, new Date(due.getTime() - 1))).toBe(ms - 1);
      } else {
        expect(isCountedInstant(cal, due)).toBe(true);
        if (due.getTime() > from.getTime()) expect(isCountedInstant(cal, new Date(due.getTime() - 1))).toBe(false);
      }
    }
  });

  it.each(PROPERTY_CALENDARS)('countedMs agrees with sampling isCountedInstant every 15 minutes and is additive: %s', (_name, cal) => {
    const next = rng(42 + _name.length);
    const QUARTER = 15 * MINUTE;
    for (let i = 0; i < 12; i++) {
      const a = randomInstant(next);
      const b = a + Math.floor((next() * 2 * DAY) / QUARTER) * QUARTER;
      let sampled = 0;
      for (let t = a; t < b; t += QUARTER) if (isCountedInstant(cal, new Date(t))) sampled += QUARTER;
      expect(countedMs(cal, new Date(a), new Date(b))).toBe(sampled);

      const c = b + Math.floor(next() * 60 * DAY);
      expect(countedMs(cal, new Date(a), new Date(c))).toBe(countedMs(cal, new Date(a), new Date(b)) + countedMs(cal, new Date(b), new Date(c)));
    }
  });

  it.each(PROPERTY_CALENDARS.filter(([, cal]) => cal !== '24x7'))('countedMs agrees with a luxon-only reference: %s', (_name, cal) => {
    if (cal === '24x7') return;
    const next = rng(99 + _name.length);
    for (let i = 0; i < 60; i++) {
      const a = randomInstant(next) + Math.floor(next() * HOUR);
      const b = a + Math.floor(next() * 40 * DAY);
      expect(countedMs(cal, new Date(a), new Date(b))).toBe(referenceCountedMs(cal, a, b));
    }
  });

  it.each(PROPERTY_CALENDARS.filter(([, cal]) => cal !== '24x7'))('nextBoundary is the next change of isCountedInstant: %s', (_name, cal) => {
    const next = rng(7 + _name.length);
    for (let i = 0; i < 100; i++) {
      const t = randomInstant(next) + Math.floor(next() * HOUR);
      const b = nextBoundary(cal, new Date(t));
      if (b === null) throw new Error(`no boundary after ${new Date(t).toISOString()}`);
      const bt = b.getTime();
      expect(bt).toBeGreaterThanOrEqual(t);
      // A real change at b ...
      expect(isCountedInstant(cal, b)).not.toBe(isCountedInstant(cal, new Date(bt - 1)));
      // ... and none in between: the whole of [t, b) has the state of t.
      const span = countedMs(cal, new Date(t), b);
      expect(span).toBe(isCountedInstant(cal, new Date(t)) ? bt - t : 0);
      // At a boundary, that boundary is returned (>= at); just after it, a later one.
      expect(nextBoundary(cal, b)?.getTime()).toBe(bt);
      expect(nextBoundary(cal, new Date(bt + 1))?.getTime()).toBeGreaterThan(bt);
    }
  });
});
