import ical from 'ical-generator';
import { DateTime } from 'luxon';
import { vtimezone } from '../../platform/ical-timezone';

/** One on-call shift as a calendar event. */
export interface ShiftEvent {
  /** Stable across refreshes while the shift stays the same. */
  uid: string;
  start: Date;
  end: Date;
  /** The rotation's IANA zone: the event is written in its local time (TZID), DST included. */
  timezone: string;
  summary: string;
  description: string;
}

/** Calendar applications refresh a subscription about this often (REFRESH-INTERVAL, X-PUBLISHED-TTL). */
const REFRESH_SECONDS = 3600;

/**
 * An RFC 5545 calendar of on-call shifts. Each event is written in its rotation's local
 * time (`DTSTART;TZID=Europe/London:20260329T080000`), with a VTIMEZONE for each zone
 * covering the events' span, so a shift shows at its local hand-off time on either side of
 * a DST change. `timezone` names the calendar's own zone (X-WR-TIMEZONE) when it has one.
 */
export function renderShiftCalendar(calendar: { name: string; timezone?: string; now: Date }, events: ShiftEvent[]): string {
  const span = events.length
    ? { from: new Date(Math.min(...events.map((event) => event.start.getTime()))), to: new Date(Math.max(...events.map((event) => event.end.getTime()))) }
    : { from: calendar.now, to: calendar.now };
  const feed = ical({
    name: calendar.name,
    prodId: { company: 'incidentd', product: 'on-call' },
    ttl: REFRESH_SECONDS,
    // No calendar-wide zone (name null): DTSTAMP stays in UTC as RFC 5545 wants, and each
    // event names its own zone; the generator adds the VTIMEZONE of every zone used.
    timezone: { name: null, generator: (zone) => vtimezone(zone, span.from, span.to) },
  });
  if (calendar.timezone) feed.x([['X-WR-TIMEZONE', calendar.timezone]]);
  for (const event of events) {
    feed.createEvent({
      id: event.uid,
      start: DateTime.fromJSDate(event.start, { zone: event.timezone }),
      end: DateTime.fromJSDate(event.end, { zone: event.timezone }),
      timezone: event.timezone,
      stamp: calendar.now,
      summary: event.summary,
      description: event.description,
    });
  }
  return feed.toString();
}
