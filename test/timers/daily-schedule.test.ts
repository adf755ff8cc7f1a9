import { describe, expect, it } from 'vitest';
import { localDay, scheduledInstant, todaysRun } from '../../src/features/timers/daily-schedule';

const HOUR = 3_600_000;
const iso = (date: Date) => date.toISOString();

describe('the scheduled instant of a daily job: local day D at HH:MM in zone Z', () => {
  it('is the zone wall-clock time, not the server time, in winter and in summer', () => {
    expect(iso(scheduledInstant('2026-03-02', '08:00', 'Europe/Berlin'))).toBe('2026-03-02T07:00:00.000Z');
    expect(iso(scheduledInstant('2026-07-01', '08:00', 'Europe/Berlin'))).toBe('2026-07-01T06:00:00.000Z');
    expect(iso(scheduledInstant('2026-03-02', '08:00', 'America/New_York'))).toBe('2026-03-02T13:00:00.000Z');
    expect(iso(scheduledInstant('2026-07-01', '08:00', 'America/New_York'))).toBe('2026-07-01T12:00:00.000Z');
    expect(iso(scheduledInstant('2026-07-01', '08:00', 'UTC'))).toBe('2026-07-01T08:00:00.000Z');
    expect(iso(scheduledInstant('2026-07-01', '00:00', 'Europe/Berlin'))).toBe('2026-06-30T22:00:00.000Z');
  });

  it('keeps the wall-clock time across a 23-hour spring-forward day (Europe/Berlin, 29 March 2026)', () => {
    const before = scheduledInstant('2026-03-28', '08:00', 'Europe/Berlin');
    const on = scheduledInstant('2026-03-29', '08:00', 'Europe/Berlin');
    expect(iso(before)).toBe('2026-03-28T07:00:00.000Z');
    expect(iso(on)).toBe('2026-03-29T06:00:00.000Z');
    expect(on.getTime() - before.getTime()).toBe(23 * HOUR);
  });

  it('keeps the wall-clock time across a 25-hour fall-back day (Europe/Berlin, 25 October 2026)', () => {
    const before = scheduledInstant('2026-10-24', '08:00', 'Europe/Berlin');
    const on = scheduledInstant('2026-10-25', '08:00', 'Europe/Berlin');
    expect(iso(before)).toBe('2026-10-24T06:00:00.000Z');
    expect(iso(on)).toBe('2026-10-25T07:00:00.000Z');
    expect(on.getTime() - before.getTime()).toBe(25 * HOUR);
  });

  it('moves a time that does not exist on the spring-forward day forward by the gap, so the day still has its run', () => {
    // Berlin: 02:00 CET -> 03:00 CEST; 02:30 never shows on the clock.
    expect(iso(scheduledInstant('2026-03-29', '02:30', 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST
    expect(iso(scheduledInstant('2026-03-29', '02:00', 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z'); // 03:00 CEST
    // New York: 02:00 EST -> 03:00 EDT.
    expect(iso(scheduledInstant('2026-03-08', '02:30', 'America/New_York'))).toBe('2026-03-08T07:30:00.000Z'); // 03:30 EDT
    // The day before and after are ordinary.
    expect(iso(scheduledInstant('2026-03-07', '02:30', 'America/New_York'))).toBe('2026-03-07T07:30:00.000Z'); // 02:30 EST
    expect(iso(scheduledInstant('2026-03-09', '02:30', 'America/New_York'))).toBe('2026-03-09T06:30:00.000Z'); // 02:30 EDT
  });

  it('takes the first of the two occurrences of a time on the fall-back day', () => {
    // Berlin: 03:00 CEST -> 02:00 CET; 02:30 shows at 00:30Z (CEST) and again at 01:30Z (CET).
    expect(iso(scheduledInstant('2026-10-25', '02:30', 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
    // New York: 02:00 EDT -> 01:00 EST; 01:30 shows at 05:30Z (EDT) and again at 06:30Z (EST).
    expect(iso(scheduledInstant('2026-11-01', '01:30', 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z');
    expect(iso(scheduledInstant('2026-11-01', '08:00', 'America/New_York'))).toBe('2026-11-01T13:00:00.000Z');
  });

  it('refuses a malformed time, date or zone instead of scheduling at a wrong instant', () => {
    expect(() => scheduledInstant('2026-03-02', '8am', 'Europe/Berlin')).toThrow(/8am/);
    expect(() => scheduledInstant('2026-02-30', '08:00', 'Europe/Berlin')).toThrow(/2026-02-30/);
    expect(() => scheduledInstant('2026-03-02', '08:00', 'Mars/Olympus')).toThrow(/Mars\/Olympus/);
  });
});

describe("today's run", () => {
  it('belongs to the local day of the zone, not the UTC day', () => {
    // 23:30Z on 28 March is 00:30 on 29 March in Berlin: the 29th's run (a spring-forward day).
    expect(todaysRun(new Date('2026-03-28T23:30:00Z'), '02:30', 'Europe/Berlin')).toEqual({ day: '2026-03-29', scheduledFor: new Date('2026-03-29T01:30:00Z') });
    // 03:00Z on 8 March is 22:00 on 7 March in New York.
    expect(todaysRun(new Date('2026-03-08T03:00:00Z'), '08:00', 'America/New_York')).toEqual({ day: '2026-03-07', scheduledFor: new Date('2026-03-07T13:00:00Z') });
  });

  it('is the same run during both occurrences of the repeated hour on the fall-back day', () => {
    const first = todaysRun(new Date('2026-10-25T00:45:00Z'), '02:30', 'Europe/Berlin'); // 02:45 CEST
    const second = todaysRun(new Date('2026-10-25T01:45:00Z'), '02:30', 'Europe/Berlin'); // 02:45 CET
    expect(first).toEqual({ day: '2026-10-25', scheduledFor: new Date('2026-10-25T00:30:00Z') });
    expect(second).toEqual(first);
  });
});

describe('local days', () => {
  it('are 23 or 25 hours long on DST days', () => {
    const length = (day: string, zone: string) => {
      const { start, end } = localDay(day, zone);
      return (end.getTime() - start.getTime()) / HOUR;
    };
    expect(length('2026-03-29', 'Europe/Berlin')).toBe(23);
    expect(length('2026-10-25', 'Europe/Berlin')).toBe(25);
    expect(length('2026-03-08', 'America/New_York')).toBe(23);
    expect(length('2026-11-01', 'America/New_York')).toBe(25);
    expect(localDay('2026-03-02', 'Europe/Berlin')).toEqual({ start: new Date('2026-03-01T23:00:00Z'), end: new Date('2026-03-02T23:00:00Z') });
  });
});
