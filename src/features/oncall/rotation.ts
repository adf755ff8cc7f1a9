/**
 * On-call rotations: who is on call at a given instant, with temporary overrides.
 *
 * This module is pure: no I/O, no clock. Every "now" is passed in as `at`.
 *
 * Schedule rules
 * - Hand-offs happen at `handoffTime` wall-clock time in `rotation.timezone`:
 *   every day (`daily`) or every `handoffDay` (`weekly`, default Monday).
 * - The first shift (index 0) starts on the local date `start` at `handoffTime` and belongs to
 *   `members[0]`; shift n belongs to `members[n % members.length]`.
 * - Weekly rotations whose `start` is not a `handoffDay`: the first shift runs from `start` at
 *   `handoffTime` until the first `handoffDay` hand-off after `start` (so it is shorter than a week);
 *   every later shift is a full week.
 * - DST: hand-offs stay at local wall-clock time, so a daily shift covering a DST change lasts
 *   23h or 25h of real time (a weekly one 167h or 169h). If `handoffTime` does not exist on some
 *   day (it falls in a spring-forward gap) the hand-off moves forward by the gap (02:30 -> 03:30);
 *   if it is ambiguous (fall-back) the offset luxon chooses is used. Both are deterministic.
 * - The shift index is computed arithmetically from local calendar dates, so looking up a date
 *   years after `start` costs the same as looking up one next week.
 *
 * Override rules
 * - An override replaces whoever is scheduled during [start, end). Overrides with end <= start
 *   are ignored. When several overrides cover an instant, the one that starts latest wins
 *   (on equal starts, the one later in the array wins).
 * - Before the rotation's first shift nobody is scheduled; only overrides apply there.
 */
import { DateTime, IANAZone } from 'luxon';

export interface Rotation {
  id: string;
  name?: string;
  timezone: string; // IANA zone; hand-offs happen at local time
  handoff: 'daily' | 'weekly';
  handoffTime: string; // 'HH:MM' local time of the hand-off, e.g. '09:00'
  handoffDay?: 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'; // weekly only (default 'mon')
  start: string; // 'YYYY-MM-DD' local date of the first shift's start (members[0] starts then, at handoffTime)
  members: string[]; // user emails, in order; at least one
}

/** A temporary replacement during [start, end). */
export interface Override {
  email: string;
  start: Date;
  end: Date;
}

/** A period [start, end) during which `email` is on call; `override` is true when it comes (at least partly) from an override. */
export interface Shift {
  email: string;
  start: Date;
  end: Date;
  override: boolean;
}

const DAY_MS = 86_400_000;
const WEEKDAYS = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 } as const;

/** Rotation settings validated and reduced to numbers. */
interface Plan {
  zone: string;
  hour: number;
  minute: number;
  members: string[];
  /** Local day number (days since 1970-01-01) of `start`. */
  startDay: number;
  weekly: boolean;
  /** Weekly: local day number of the first handoffDay on or after `start`. */
  anchorDay: number;
  /** Weekly: 0 when `start` is a handoffDay, 1 when the first shift is a partial week. */
  offset: number;
}

function plan(rotation: Rotation): Plan {
  const members = rotation.members;
  if (!Array.isArray(members) || members.length === 0) {
    throw new Error(`rotation ${rotation.id}: members must contain at least one email`);
  }
  const time = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(rotation.handoffTime);
  if (!time) throw new Error(`rotation ${rotation.id}: handoffTime must be HH:MM, got "${rotation.handoffTime}"`);
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(rotation.start);
  const startDay = date ? Date.UTC(+date[1], +date[2] - 1, +date[3]) / DAY_MS : NaN;
  if (!date || !Number.isInteger(startDay) || dayToYmd(startDay).join('-') !== `${+date[1]}-${+date[2]}-${+date[3]}`) {
    throw new Error(`rotation ${rotation.id}: start must be a YYYY-MM-DD date, got "${rotation.start}"`);
  }
  if (!IANAZone.isValidZone(rotation.timezone)) {
    throw new Error(`rotation ${rotation.id}: unknown timezone "${rotation.timezone}"`);
  }
  if (rotation.handoff !== 'daily' && rotation.handoff !== 'weekly') {
    throw new Error(`rotation ${rotation.id}: handoff must be 'daily' or 'weekly'`);
  }
  const weekly = rotation.handoff === 'weekly';
  const dayName = rotation.handoffDay ?? 'mon';
  const handoffWeekday = WEEKDAYS[dayName];
  if (weekly && handoffWeekday === undefined) {
    throw new Error(`rotation ${rotation.id}: handoffDay must be mon..sun, got "${dayName}"`);
  }
  // 1970-01-01 (day 0) was a Thursday (ISO weekday 4).
  const startWeekday = ((((startDay + 3) % 7) + 7) % 7) + 1;
  const ahead = weekly ? (handoffWeekday - startWeekday + 7) % 7 : 0;
  return {
    zone: rotation.timezone,
    hour: +time[1],
    minute: +time[2],
    members,
    startDay,
    weekly,
    anchorDay: startDay + ahead,
    offset: ahead === 0 ? 0 : 1,
  };
}

function dayToYmd(day: number): [number, number, number] {
  const d = new Date(day * DAY_MS);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

/** Local day number of the hand-off that starts shift k (k >= 0). */
function boundaryDay(p: Plan, k: number): number {
  if (!p.weekly) return p.startDay + k;
  if (k < p.offset) return p.startDay;
  return p.anchorDay + 7 * (k - p.offset);
}

/** Epoch ms of the hand-off that starts shift k (k >= 0). */
function boundary(p: Plan, k: number): number {
  const [year, month, day] = dayToYmd(boundaryDay(p, k));
  return DateTime.fromObject({ year, month, day, hour: p.hour, minute: p.minute }, { zone: p.zone }).toMillis();
}

/** Index of the scheduled shift covering instant t, or -1 before the first shift. */
function shiftIndex(p: Plan, t: number): number {
  const local = DateTime.fromMillis(t, { zone: p.zone });
  const day = Date.UTC(local.year, local.month - 1, local.day) / DAY_MS;
  let k: number;
  if (!p.weekly) k = day - p.startDay;
  else if (day >= p.anchorDay) k = p.offset + Math.floor((day - p.anchorDay) / 7);
  else k = day >= p.startDay ? 0 : -1;
  k = Math.max(k, -1);
  // The estimate is off by at most one (hand-off later in the local day, DST gaps); correct it.
  while (k >= 0 && t < boundary(p, k)) k--;
  while (t >= boundary(p, k + 1)) k++;
  return k;
}

function scheduled(p: Plan, k: number): Shift {
  return {
    email: p.members[k % p.members.length],
    start: new Date(boundary(p, k)),
    end: new Date(boundary(p, k + 1)),
    override: false,
  };
}

function toMs(d: Date, what: string): number {
  const ms = d instanceof Date ? d.getTime() : NaN;
  if (Number.isNaN(ms)) throw new Error(`${what} is not a valid Date`);
  return ms;
}

/** The scheduled shift (ignoring overrides) covering `at`. Before `start`, members[0]'s first shift (starting at start) is returned with start = rotation start. */
export function scheduledShiftAt(rotation: Rotation, at: Date): Shift {
  const p = plan(rotation);
  return scheduled(p, Math.max(0, shiftIndex(p, toMs(at, 'at'))));
}

// ---------------------------------------------------------------------------------------------
// Timeline with overrides applied

interface Ovr {
  email: string;
  start: number;
  end: number;
  /** Position in the caller's array; breaks ties between equal starts. */
  index: number;
}

/** An elementary piece of the effective timeline: one override, or one scheduled shift's uncovered part. */
interface Piece {
  email: string;
  start: number;
  end: number;
  override: boolean;
  /** Scheduled shift index for schedule pieces, -1 for override pieces. */
  shift: number;
}

function normalize(overrides: Override[]): Ovr[] {
  const out: Ovr[] = [];
  overrides.forEach((o, index) => {
    const start = toMs(o.start, `override ${index} start`);
    const end = toMs(o.end, `override ${index} end`);
    if (end > start) out.push({ email: o.email, start, end, index });
  });
  return out;
}

/** True when a wins over b where both cover an instant. */
function beats(a: Ovr, b: Ovr): boolean {
  return a.start > b.start || (a.start === b.start && a.index > b.index);
}

/** Earliest override start strictly after t, or Infinity. */
function nextOverrideStart(ovrs: Ovr[], t: number): number {
  let next = Infinity;
  for (const o of ovrs) if (o.start > t && o.start < next) next = o.start;
  return next;
}

/** The elementary piece covering t, or undefined when nobody is on call (before the rotation's start, no override). */
function pieceAt(p: Plan, ovrs: Ovr[], t: number): Piece | undefined {
  let winner: Ovr | undefined;
  for (const o of ovrs) if (o.start <= t && t < o.end && (!winner || beats(o, winner))) winner = o;
  const nextStart = nextOverrideStart(ovrs, t);
  if (winner) {
    const w = winner;
    let start = w.start;
    for (const o of ovrs) if (beats(o, w) && o.end <= t && o.end > start) start = o.end;
    return { email: w.email, start, end: Math.min(w.end, nextStart), override: true, shift: -1 };
  }
  const k = shiftIndex(p, t);
  if (k < 0) return undefined;
  let start = boundary(p, k);
  for (const o of ovrs) if (o.end <= t && o.end > start) start = o.end;
  return {
    email: p.members[k % p.members.length],
    start,
    end: Math.min(boundary(p, k + 1), nextStart),
    override: false,
    shift: k,
  };
}

/** The piece covering t or, when nobody is on call at t, the next piece to start. */
function currentOrNextPiece(p: Plan, ovrs: Ovr[], t: number): Piece {
  const piece = pieceAt(p, ovrs, t);
  if (piece) return piece;
  const next = Math.min(nextOverrideStart(ovrs, t), boundary(p, 0));
  return pieceAt(p, ovrs, next)!;
}

/** The piece following `piece` (skipping a gap before the rotation's start). */
function nextPiece(p: Plan, ovrs: Ovr[], piece: Piece): Piece {
  return currentOrNextPiece(p, ovrs, piece.end);
}

/** Adjacent pieces merge when they have the same email, except across a plain scheduled hand-off. */
function mergeable(a: Piece, b: Piece): boolean {
  return a.end === b.start && a.email === b.email && !(a.shift >= 0 && b.shift >= 0 && a.shift !== b.shift);
}

function toShift(piece: Piece): Shift {
  return { email: piece.email, start: new Date(piece.start), end: new Date(piece.end), override: piece.override };
}

/**
 * Who is on call at `at`, with overrides applied (the latest-starting override covering `at` wins);
 * the returned shift is clipped to the override/schedule piece covering at.
 *
 * If nobody is on call at `at` (only possible before the rotation's start, outside any override),
 * the next piece to start is returned, as `scheduledShiftAt` does.
 */
export function onCallAt(rotation: Rotation, overrides: Override[], at: Date): Shift {
  const p = plan(rotation);
  return toShift(currentOrNextPiece(p, normalize(overrides), toMs(at, 'at')));
}

/**
 * The next `count` shifts starting after the one covering `at` (overrides applied, consecutive
 * pieces with the same email merged), e.g. to show "next on call".
 *
 * Merging joins adjacent pieces of the same person (e.g. an override for Bob that ends where Bob's
 * scheduled shift begins) but never joins two plain scheduled shifts, so a one-member rotation
 * still lists one shift per hand-off. A merged shift has `override: true` if any part of it is an
 * override. The shift "covering `at`" is the merged piece containing `onCallAt(...)`, so its
 * continuation (same person) is not listed again.
 */
export function upcomingShifts(rotation: Rotation, overrides: Override[], at: Date, count: number): Shift[] {
  const p = plan(rotation);
  const ovrs = normalize(overrides);
  const result: Shift[] = [];
  if (!(count > 0)) return result;
  // Skip past the (merged) piece covering `at`.
  let next = mergedFrom(p, ovrs, currentOrNextPiece(p, ovrs, toMs(at, 'at'))).after;
  while (result.length < count) {
    const merged = mergedFrom(p, ovrs, next);
    result.push(merged.shift);
    next = merged.after;
  }
  return result;
}

/**
 * The shifts overlapping [from, to), in order, overrides applied and merged as in
 * `upcomingShifts`: what a calendar of the rotation shows. Shifts keep their real bounds, so
 * the first may start before `from` and the last end after `to`. At most `limit` shifts, so a
 * huge range cannot exhaust memory.
 */
export function shiftsBetween(rotation: Rotation, overrides: Override[], from: Date, to: Date, limit = 5000): Shift[] {
  const p = plan(rotation);
  const ovrs = normalize(overrides);
  const end = toMs(to, 'to');
  const result: Shift[] = [];
  let piece = currentOrNextPiece(p, ovrs, toMs(from, 'from'));
  while (piece.start < end && result.length < limit) {
    const merged = mergedFrom(p, ovrs, piece);
    result.push(merged.shift);
    piece = merged.after;
  }
  return result;
}

/** `piece` merged with the pieces that continue it (same person), and the piece after them. */
function mergedFrom(p: Plan, ovrs: Ovr[], piece: Piece): { shift: Shift; after: Piece } {
  let merged = piece;
  let override = piece.override;
  let after = nextPiece(p, ovrs, piece);
  while (mergeable(merged, after)) {
    override ||= after.override;
    merged = { ...after, start: merged.start, email: merged.email };
    after = nextPiece(p, ovrs, after);
  }
  return { shift: { email: merged.email, start: new Date(merged.start), end: new Date(merged.end), override }, after };
}
