import { DateTime, IANAZone } from 'luxon';

const MINUTE_MS = 60_000;
/** Offsets are sampled this far apart; zones never change their offset twice within it. */
const STEP_MS = 6 * 60 * MINUTE_MS;

/**
 * An RFC 5545 VTIMEZONE component for an IANA zone, valid for instants in [from, to): the
 * observance in force at `from`, then one per change of the UTC offset until `to`.
 *
 * Events in calendar feeds carry `DTSTART;TZID=<zone>:<local time>`, and RFC 5545 wants a
 * VTIMEZONE for every TZID. It is built from the same time zone data (Node's ICU, through
 * luxon) that computed the events' instants, so clients that read the VTIMEZONE (Outlook)
 * and clients that look the zone up by name (Google, Apple) put every event at the same
 * instant. Each observance is a single onset (no RRULE): a zone whose rules change later
 * stays right for the range it was generated for.
 */
export function vtimezone(zone: string, from: Date, to: Date): string {
  if (!IANAZone.isValidZone(zone)) throw new Error(`unknown time zone "${zone}"`);
  // The zone's own offset lookup: no DateTime built per sample.
  const tz = IANAZone.create(zone);
  const offsetAt = (ms: number) => tz.offset(ms);
  const end = to.getTime();
  let at = Math.floor(from.getTime() / MINUTE_MS) * MINUTE_MS;
  let offset = offsetAt(at);
  const lines = ['BEGIN:VTIMEZONE', `TZID:${zone}`, ...observance(zone, at, offset, offset)];
  while (at < end) {
    const next = Math.min(at + STEP_MS, end);
    const nextOffset = offsetAt(next);
    if (nextOffset !== offset) {
      // The first minute with the new offset, by bisection (offsets change on whole minutes).
      let before = at;
      let after = next;
      while (after - before > MINUTE_MS) {
        const middle = before + Math.floor((after - before) / 2 / MINUTE_MS) * MINUTE_MS;
        if (offsetAt(middle) === offset) before = middle;
        else after = middle;
      }
      lines.push(...observance(zone, after, offset, offsetAt(after)));
      offset = offsetAt(after);
    }
    at = next;
  }
  lines.push('END:VTIMEZONE');
  return lines.join('\r\n');
}

/** An observance starting at instant `onset`; its DTSTART is the local time just before it (RFC 5545 3.6.5). */
function observance(zone: string, onset: number, offsetFrom: number, offsetTo: number): string[] {
  const kind = DateTime.fromMillis(onset, { zone }).isInDST ? 'DAYLIGHT' : 'STANDARD';
  const localStart = DateTime.fromMillis(onset + offsetFrom * MINUTE_MS, { zone: 'UTC' }).toFormat("yyyyLLdd'T'HHmmss");
  return [`BEGIN:${kind}`, `DTSTART:${localStart}`, `TZOFFSETFROM:${formatOffset(offsetFrom)}`, `TZOFFSETTO:${formatOffset(offsetTo)}`, `END:${kind}`];
}

/** Minutes east of UTC as RFC 5545 UTC-OFFSET: +0100, -0430, +0545. */
function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const absolute = Math.abs(minutes);
  return `${sign}${String(Math.floor(absolute / 60)).padStart(2, '0')}${String(absolute % 60).padStart(2, '0')}`;
}
