import { describe, expect, it } from 'vitest';
import {
  onCallAt,
  scheduledShiftAt,
  shiftsBetween,
  upcomingShifts,
  type Override,
  type Rotation,
  type Shift,
} from '../../src/features/oncall/rotation';

const A = 'alice@msp.example';
const B = 'bob@msp.example';
const C = 'carol@msp.example';
const D = 'dave@msp.example';
const E = 'eve@msp.example';
const F = 'frank@msp.example';

const HOUR = 3_600_000;
const t = (iso: string) => new Date(iso);

/** Shift as plain ISO strings, so failures are readable. */
function view(s: Shift) {
  return { email: s.email, start: s.start.toISOString(), end: s.end.toISOString(), override: s.override };
}
function shift(email: string, start: string, end: string, override = false) {
  return { email, start: t(start).toISOString(), end: t(end).toISOString(), override };
}

// Europe/London is on GMT (= UTC) in January, so 09:00 local = 09:00Z.
const daily: Rotation = {
  id: 'rot-daily',
  timezone: 'Europe/London',
  handoff: 'daily',
  handoffTime: '09:00',
  start: '2026-01-05',
  members: [A, B, C],
};

// 2026-03-02 is a Monday.
const weekly: Rotation = {
  id: 'rot-weekly',
  timezone: 'Europe/London',
  handoff: 'weekly',
  handoffTime: '09:00',
  handoffDay: 'mon',
  start: '2026-03-02',
  members: [A, B, C],
};

describe('scheduledShiftAt: daily', () => {
  it('gives each member one day, in order, wrapping around', () => {
    expect(view(scheduledShiftAt(daily, t('2026-01-05T12:00:00Z')))).toEqual(
      shift(A, '2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z'),
    );
    expect(view(scheduledShiftAt(daily, t('2026-01-06T23:00:00Z')))).toEqual(
      shift(B, '2026-01-06T09:00:00Z', '2026-01-07T09:00:00Z'),
    );
    expect(view(scheduledShiftAt(daily, t('2026-01-07T09:30:00Z')))).toEqual(
      shift(C, '2026-01-07T09:00:00Z', '2026-01-08T09:00:00Z'),
    );
    expect(view(scheduledShiftAt(daily, t('2026-01-08T10:00:00Z')))).toEqual(
      shift(A, '2026-01-08T09:00:00Z', '2026-01-09T09:00:00Z'),
    );
  });

  it('hands off at exactly 09:00: the boundary instant belongs to the next person', () => {
    expect(scheduledShiftAt(daily, t('2026-01-06T08:59:59.999Z')).email).toBe(A);
    expect(view(scheduledShiftAt(daily, t('2026-01-06T09:00:00.000Z')))).toEqual(
      shift(B, '2026-01-06T09:00:00Z', '2026-01-07T09:00:00Z'),
    );
    // Early-morning local time still belongs to the previous day's shift.
    expect(scheduledShiftAt(daily, t('2026-01-07T03:00:00Z')).email).toBe(B);
  });

  it('before start returns members[0] first shift, starting at the rotation start', () => {
    const first = shift(A, '2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z');
    expect(view(scheduledShiftAt(daily, t('2026-01-05T08:59:59.999Z')))).toEqual(first);
    expect(view(scheduledShiftAt(daily, t('2025-06-01T00:00:00Z')))).toEqual(first);
    expect(view(scheduledShiftAt(daily, t('2026-01-05T09:00:00Z')))).toEqual(first);
  });

  it('computes dates 3 years after start (1096 days later incl. 29 Feb 2028)', () => {
    // 1096 % 3 == 1 -> bob.
    expect(view(scheduledShiftAt(daily, t('2029-01-05T12:00:00Z')))).toEqual(
      shift(B, '2029-01-05T09:00:00Z', '2029-01-06T09:00:00Z'),
    );
    // 2029-07-01 is 1273 days after start (1273 % 3 == 1) and on BST: 09:00 local = 08:00Z.
    expect(view(scheduledShiftAt(daily, t('2029-07-01T08:30:00Z')))).toEqual(
      shift(B, '2029-07-01T08:00:00Z', '2029-07-02T08:00:00Z'),
    );
    expect(scheduledShiftAt(daily, t('2029-07-01T07:59:59Z')).email).toBe(A);
  });
});

describe('scheduledShiftAt: weekly', () => {
  it('rotates every Monday 09:00', () => {
    expect(view(scheduledShiftAt(weekly, t('2026-03-04T12:00:00Z')))).toEqual(
      shift(A, '2026-03-02T09:00:00Z', '2026-03-09T09:00:00Z'),
    );
    expect(scheduledShiftAt(weekly, t('2026-03-09T08:59:59Z')).email).toBe(A);
    expect(view(scheduledShiftAt(weekly, t('2026-03-09T09:00:00Z')))).toEqual(
      shift(B, '2026-03-09T09:00:00Z', '2026-03-16T09:00:00Z'),
    );
    expect(scheduledShiftAt(weekly, t('2026-03-22T23:59:00Z')).email).toBe(C);
  });

  it('before start returns the first shift', () => {
    expect(view(scheduledShiftAt(weekly, t('2026-02-20T00:00:00Z')))).toEqual(
      shift(A, '2026-03-02T09:00:00Z', '2026-03-09T09:00:00Z'),
    );
  });

  it('a start that is not a handoffDay gives a short first shift up to the next handoffDay', () => {
    const wed: Rotation = { ...weekly, id: 'rot-wed', start: '2026-03-04' }; // a Wednesday
    expect(view(scheduledShiftAt(wed, t('2026-03-05T00:00:00Z')))).toEqual(
      shift(A, '2026-03-04T09:00:00Z', '2026-03-09T09:00:00Z'),
    );
    expect(view(scheduledShiftAt(wed, t('2026-03-09T09:00:00Z')))).toEqual(
      shift(B, '2026-03-09T09:00:00Z', '2026-03-16T09:00:00Z'),
    );
    expect(scheduledShiftAt(wed, t('2026-03-16T09:00:00Z')).email).toBe(C);
    expect(scheduledShiftAt(wed, t('2026-03-23T09:00:00Z')).email).toBe(A);
    // Same Wednesday but before 09:00: not started yet.
    expect(view(scheduledShiftAt(wed, t('2026-03-04T08:00:00Z')))).toEqual(
      shift(A, '2026-03-04T09:00:00Z', '2026-03-09T09:00:00Z'),
    );
  });

  it('honours a handoffDay other than Monday', () => {
    const fri: Rotation = { ...weekly, id: 'rot-fri', handoffDay: 'fri', start: '2026-03-06' }; // Friday
    expect(view(scheduledShiftAt(fri, t('2026-03-12T09:00:00Z')))).toEqual(
      shift(A, '2026-03-06T09:00:00Z', '2026-03-13T09:00:00Z'),
    );
    expect(scheduledShiftAt(fri, t('2026-03-13T09:00:00Z')).email).toBe(B);
  });

  it('computes a week 3 years after start (157 weeks later -> index 1)', () => {
    expect(view(scheduledShiftAt(weekly, t('2029-03-07T12:00:00Z')))).toEqual(
      shift(B, '2029-03-05T09:00:00Z', '2029-03-12T09:00:00Z'),
    );
  });
});

describe('DST: hand-offs stay at 09:00 local', () => {
  it('Europe/London spring forward (2026-03-29): daily shift is 23h', () => {
    const r: Rotation = { ...daily, id: 'lon', start: '2026-03-27' };
    const s = scheduledShiftAt(r, t('2026-03-28T20:00:00Z'));
    expect(view(s)).toEqual(shift(B, '2026-03-28T09:00:00Z', '2026-03-29T08:00:00Z'));
    expect(s.end.getTime() - s.start.getTime()).toBe(23 * HOUR);
    // 08:30Z on the 29th is 09:30 BST: already carol.
    expect(view(scheduledShiftAt(r, t('2026-03-29T08:30:00Z')))).toEqual(
      shift(C, '2026-03-29T08:00:00Z', '2026-03-30T08:00:00Z'),
    );
    expect(scheduledShiftAt(r, t('2026-03-29T07:59:59Z')).email).toBe(B);
  });

  it('Europe/London weekly shift containing 2026-03-29 is 167h', () => {
    const s = scheduledShiftAt(weekly, t('2026-03-29T12:00:00Z'));
    expect(view(s)).toEqual(shift(A, '2026-03-23T09:00:00Z', '2026-03-30T08:00:00Z'));
    expect(s.end.getTime() - s.start.getTime()).toBe(167 * HOUR);
    expect(scheduledShiftAt(weekly, t('2026-03-30T08:00:00Z')).email).toBe(B);
  });

  it('America/New_York fall back (2026-11-01): daily shift is 25h', () => {
    const r: Rotation = { ...daily, id: 'nyc', timezone: 'America/New_York', start: '2026-10-30' };
    const s = scheduledShiftAt(r, t('2026-11-01T13:30:00Z')); // 08:30 EST
    expect(view(s)).toEqual(shift(B, '2026-10-31T13:00:00Z', '2026-11-01T14:00:00Z'));
    expect(s.end.getTime() - s.start.getTime()).toBe(25 * HOUR);
    expect(view(scheduledShiftAt(r, t('2026-11-01T14:00:00Z')))).toEqual(
      shift(C, '2026-11-01T14:00:00Z', '2026-11-02T14:00:00Z'),
    );
  });

  it('America/New_York weekly shift containing 2026-11-01 is 169h', () => {
    const r: Rotation = { ...weekly, id: 'nyc-w', timezone: 'America/New_York', start: '2026-10-19' };
    const s = scheduledShiftAt(r, t('2026-11-01T12:00:00Z'));
    expect(view(s)).toEqual(shift(B, '2026-10-26T13:00:00Z', '2026-11-02T14:00:00Z'));
    expect(s.end.getTime() - s.start.getTime()).toBe(169 * HOUR);
    expect(scheduledShiftAt(r, t('2026-11-02T13:59:59Z')).email).toBe(B);
    expect(scheduledShiftAt(r, t('2026-11-02T14:00:00Z')).email).toBe(C);
  });
});

describe('onCallAt with overrides', () => {
  const inside: Override = { email: B, start: t('2026-01-05T13:00:00Z'), end: t('2026-01-05T15:00:00Z') };
  const spanning: Override = { email: D, start: t('2026-01-06T06:00:00Z'), end: t('2026-01-06T12:00:00Z') };

  it('without overrides equals the scheduled shift', () => {
    expect(view(onCallAt(daily, [], t('2026-01-06T10:00:00Z')))).toEqual(
      shift(B, '2026-01-06T09:00:00Z', '2026-01-07T09:00:00Z'),
    );
  });

  it('an override inside a shift splits it into three pieces', () => {
    const ovr = [inside];
    expect(view(onCallAt(daily, ovr, t('2026-01-05T12:00:00Z')))).toEqual(
      shift(A, '2026-01-05T09:00:00Z', '2026-01-05T13:00:00Z'),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-05T13:00:00Z')))).toEqual(
      shift(B, '2026-01-05T13:00:00Z', '2026-01-05T15:00:00Z', true),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-05T14:59:59Z')))).toEqual(
      shift(B, '2026-01-05T13:00:00Z', '2026-01-05T15:00:00Z', true),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-05T15:00:00Z')))).toEqual(
      shift(A, '2026-01-05T15:00:00Z', '2026-01-06T09:00:00Z'),
    );
  });

  it('an override spanning a hand-off covers both sides of it', () => {
    const ovr = [spanning];
    expect(view(onCallAt(daily, ovr, t('2026-01-06T05:00:00Z')))).toEqual(
      shift(A, '2026-01-05T09:00:00Z', '2026-01-06T06:00:00Z'),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-06T08:00:00Z')))).toEqual(
      shift(D, '2026-01-06T06:00:00Z', '2026-01-06T12:00:00Z', true),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-06T09:00:00Z')))).toEqual(
      shift(D, '2026-01-06T06:00:00Z', '2026-01-06T12:00:00Z', true),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-06T12:00:00Z')))).toEqual(
      shift(B, '2026-01-06T12:00:00Z', '2026-01-07T09:00:00Z'),
    );
    // The schedule itself is unaffected.
    expect(scheduledShiftAt(daily, t('2026-01-06T09:00:00Z')).email).toBe(B);
  });

  it('nested overrides: the later-starting one wins, regardless of array order', () => {
    const outer: Override = { email: E, start: t('2026-01-07T00:00:00Z'), end: t('2026-01-08T00:00:00Z') };
    const inner: Override = { email: F, start: t('2026-01-07T10:00:00Z'), end: t('2026-01-07T12:00:00Z') };
    for (const ovr of [[outer, inner], [inner, outer]]) {
      expect(view(onCallAt(daily, ovr, t('2026-01-07T05:00:00Z')))).toEqual(
        shift(E, '2026-01-07T00:00:00Z', '2026-01-07T10:00:00Z', true),
      );
      expect(view(onCallAt(daily, ovr, t('2026-01-07T11:00:00Z')))).toEqual(
        shift(F, '2026-01-07T10:00:00Z', '2026-01-07T12:00:00Z', true),
      );
      expect(view(onCallAt(daily, ovr, t('2026-01-07T12:00:00Z')))).toEqual(
        shift(E, '2026-01-07T12:00:00Z', '2026-01-08T00:00:00Z', true),
      );
      expect(view(onCallAt(daily, ovr, t('2026-01-08T00:00:00Z')))).toEqual(
        shift(C, '2026-01-08T00:00:00Z', '2026-01-08T09:00:00Z'),
      );
    }
  });

  it('overlapping (not nested) overrides: the later start takes over at its start', () => {
    const first: Override = { email: E, start: t('2026-01-05T10:00:00Z'), end: t('2026-01-05T18:00:00Z') };
    const second: Override = { email: F, start: t('2026-01-05T16:00:00Z'), end: t('2026-01-05T20:00:00Z') };
    const ovr = [second, first];
    expect(view(onCallAt(daily, ovr, t('2026-01-05T15:00:00Z')))).toEqual(
      shift(E, '2026-01-05T10:00:00Z', '2026-01-05T16:00:00Z', true),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-05T17:00:00Z')))).toEqual(
      shift(F, '2026-01-05T16:00:00Z', '2026-01-05T20:00:00Z', true),
    );
    expect(view(onCallAt(daily, ovr, t('2026-01-05T20:00:00Z')))).toEqual(
      shift(A, '2026-01-05T20:00:00Z', '2026-01-06T09:00:00Z'),
    );
  });

  it('ignores empty overrides and applies ones before the rotation starts', () => {
    const empty: Override = { email: F, start: t('2026-01-05T12:00:00Z'), end: t('2026-01-05T12:00:00Z') };
    expect(onCallAt(daily, [empty], t('2026-01-05T12:00:00Z')).email).toBe(A);
    const early: Override = { email: D, start: t('2026-01-04T00:00:00Z'), end: t('2026-01-05T12:00:00Z') };
    expect(view(onCallAt(daily, [early], t('2026-01-04T06:00:00Z')))).toEqual(
      shift(D, '2026-01-04T00:00:00Z', '2026-01-05T12:00:00Z', true),
    );
    // Before start and outside overrides: the next piece to start (members[0] from the rotation start).
    expect(view(onCallAt(daily, [], t('2026-01-01T00:00:00Z')))).toEqual(
      shift(A, '2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z'),
    );
  });
});

describe('upcomingShifts', () => {
  it('lists the next shifts in order, after the one covering at', () => {
    expect(upcomingShifts(daily, [], t('2026-01-05T10:00:00Z'), 3).map(view)).toEqual([
      shift(B, '2026-01-06T09:00:00Z', '2026-01-07T09:00:00Z'),
      shift(C, '2026-01-07T09:00:00Z', '2026-01-08T09:00:00Z'),
      shift(A, '2026-01-08T09:00:00Z', '2026-01-09T09:00:00Z'),
    ]);
    // At the boundary the covering shift is bob's, so the list starts with carol.
    expect(upcomingShifts(daily, [], t('2026-01-06T09:00:00Z'), 1).map(view)).toEqual([
      shift(C, '2026-01-07T09:00:00Z', '2026-01-08T09:00:00Z'),
    ]);
    expect(upcomingShifts(daily, [], t('2026-01-06T09:00:00Z'), 0)).toEqual([]);
  });

  it('merges an override with the same person’s adjacent shift and interleaves later overrides', () => {
    const ovr: Override[] = [
      { email: D, start: t('2026-01-07T12:00:00Z'), end: t('2026-01-07T14:00:00Z') },
      { email: B, start: t('2026-01-05T20:00:00Z'), end: t('2026-01-06T09:00:00Z') },
    ];
    expect(upcomingShifts(daily, ovr, t('2026-01-05T10:00:00Z'), 5).map(view)).toEqual([
      shift(B, '2026-01-05T20:00:00Z', '2026-01-07T09:00:00Z', true),
      shift(C, '2026-01-07T09:00:00Z', '2026-01-07T12:00:00Z'),
      shift(D, '2026-01-07T12:00:00Z', '2026-01-07T14:00:00Z', true),
      shift(C, '2026-01-07T14:00:00Z', '2026-01-08T09:00:00Z'),
      shift(A, '2026-01-08T09:00:00Z', '2026-01-09T09:00:00Z'),
    ]);
    // While bob covers by override, his continuing scheduled shift is part of the current one.
    expect(onCallAt(daily, ovr, t('2026-01-05T21:00:00Z')).email).toBe(B);
    expect(upcomingShifts(daily, ovr, t('2026-01-05T21:00:00Z'), 1).map(view)).toEqual([
      shift(C, '2026-01-07T09:00:00Z', '2026-01-07T12:00:00Z'),
    ]);
  });

  it('before start lists the shifts after members[0] first shift', () => {
    expect(upcomingShifts(daily, [], t('2025-12-31T00:00:00Z'), 2).map((s) => s.email)).toEqual([B, C]);
  });

  it('handles weekly DST weeks', () => {
    expect(upcomingShifts(weekly, [], t('2026-03-20T00:00:00Z'), 2).map(view)).toEqual([
      shift(A, '2026-03-23T09:00:00Z', '2026-03-30T08:00:00Z'),
      shift(B, '2026-03-30T08:00:00Z', '2026-04-06T08:00:00Z'),
    ]);
  });
});

describe('one-member rotation', () => {
  const solo: Rotation = { ...daily, id: 'solo', members: [A] };

  it('is always the same person, with one shift per hand-off (never merged)', () => {
    expect(view(scheduledShiftAt(solo, t('2026-01-10T08:00:00Z')))).toEqual(
      shift(A, '2026-01-09T09:00:00Z', '2026-01-10T09:00:00Z'),
    );
    expect(scheduledShiftAt(solo, t('2029-01-05T12:00:00Z')).email).toBe(A);
    expect(upcomingShifts(solo, [], t('2026-01-10T08:00:00Z'), 3).map(view)).toEqual([
      shift(A, '2026-01-10T09:00:00Z', '2026-01-11T09:00:00Z'),
      shift(A, '2026-01-11T09:00:00Z', '2026-01-12T09:00:00Z'),
      shift(A, '2026-01-12T09:00:00Z', '2026-01-13T09:00:00Z'),
    ]);
  });

  it('still applies overrides', () => {
    const ovr: Override[] = [{ email: B, start: t('2026-01-10T12:00:00Z'), end: t('2026-01-10T14:00:00Z') }];
    expect(view(onCallAt(solo, ovr, t('2026-01-10T13:00:00Z')))).toEqual(
      shift(B, '2026-01-10T12:00:00Z', '2026-01-10T14:00:00Z', true),
    );
    expect(upcomingShifts(solo, ovr, t('2026-01-10T10:00:00Z'), 3).map(view)).toEqual([
      shift(B, '2026-01-10T12:00:00Z', '2026-01-10T14:00:00Z', true),
      shift(A, '2026-01-10T14:00:00Z', '2026-01-11T09:00:00Z'),
      shift(A, '2026-01-11T09:00:00Z', '2026-01-12T09:00:00Z'),
    ]);
  });
});

describe('shiftsBetween (calendar feeds)', () => {
  it('lists every shift overlapping the range, the first and last with their real bounds', () => {
    expect(shiftsBetween(daily, [], t('2026-01-05T12:00:00Z'), t('2026-01-07T10:00:00Z')).map(view)).toEqual([
      shift(A, '2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z'),
      shift(B, '2026-01-06T09:00:00Z', '2026-01-07T09:00:00Z'),
      shift(C, '2026-01-07T09:00:00Z', '2026-01-08T09:00:00Z'),
    ]);
    // A range ending exactly at a hand-off does not include the next shift.
    expect(shiftsBetween(daily, [], t('2026-01-05T12:00:00Z'), t('2026-01-06T09:00:00Z')).map((s) => s.email)).toEqual([A]);
  });

  it('cuts overrides out of the scheduled shifts and merges one with the same person’s own shift', () => {
    const ovr: Override[] = [
      { email: D, start: t('2026-01-07T12:00:00Z'), end: t('2026-01-07T14:00:00Z') },
      { email: B, start: t('2026-01-05T20:00:00Z'), end: t('2026-01-06T09:00:00Z') },
    ];
    expect(shiftsBetween(daily, ovr, t('2026-01-05T10:00:00Z'), t('2026-01-08T10:00:00Z')).map(view)).toEqual([
      shift(A, '2026-01-05T09:00:00Z', '2026-01-05T20:00:00Z'),
      shift(B, '2026-01-05T20:00:00Z', '2026-01-07T09:00:00Z', true),
      shift(C, '2026-01-07T09:00:00Z', '2026-01-07T12:00:00Z'),
      shift(D, '2026-01-07T12:00:00Z', '2026-01-07T14:00:00Z', true),
      shift(C, '2026-01-07T14:00:00Z', '2026-01-08T09:00:00Z'),
      shift(A, '2026-01-08T09:00:00Z', '2026-01-09T09:00:00Z'),
    ]);
  });

  it('keeps hand-offs at local time across DST: a 23-hour day and a 167-hour week', () => {
    const london = { ...daily, start: '2026-03-01' };
    expect(shiftsBetween(london, [], t('2026-03-28T12:00:00Z'), t('2026-03-29T12:00:00Z')).map(view)).toEqual([
      shift(A, '2026-03-28T09:00:00Z', '2026-03-29T08:00:00Z'),
      shift(B, '2026-03-29T08:00:00Z', '2026-03-30T08:00:00Z'),
    ]);
    expect(shiftsBetween(weekly, [], t('2026-03-24T00:00:00Z'), t('2026-03-31T00:00:00Z')).map(view)).toEqual([
      shift(A, '2026-03-23T09:00:00Z', '2026-03-30T08:00:00Z'),
      shift(B, '2026-03-30T08:00:00Z', '2026-04-06T08:00:00Z'),
    ]);
  });

  it('starts at the rotation’s first shift, shows overrides before it, and stops at the limit', () => {
    const early: Override = { email: E, start: t('2026-01-03T10:00:00Z'), end: t('2026-01-03T12:00:00Z') };
    expect(shiftsBetween(daily, [early], t('2026-01-01T00:00:00Z'), t('2026-01-06T00:00:00Z')).map(view)).toEqual([
      shift(E, '2026-01-03T10:00:00Z', '2026-01-03T12:00:00Z', true),
      shift(A, '2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z'),
    ]);
    expect(shiftsBetween(daily, [], t('2026-01-05T12:00:00Z'), t('2036-01-05T12:00:00Z'), 10)).toHaveLength(10);
    expect(shiftsBetween(daily, [], t('2026-01-06T00:00:00Z'), t('2026-01-05T00:00:00Z'))).toEqual([]);
  });
});

describe('validation', () => {
  it('rejects unusable rotations', () => {
    const at = t('2026-01-06T10:00:00Z');
    expect(() => scheduledShiftAt({ ...daily, members: [] }, at)).toThrow(/members/);
    expect(() => scheduledShiftAt({ ...daily, timezone: 'Mars/Olympus' }, at)).toThrow(/timezone/);
    expect(() => scheduledShiftAt({ ...daily, handoffTime: '9am' }, at)).toThrow(/handoffTime/);
    expect(() => scheduledShiftAt({ ...daily, start: '2026-02-30' }, at)).toThrow(/start/);
    expect(() => scheduledShiftAt(daily, new Date('nope'))).toThrow(/at/);
  });
});
