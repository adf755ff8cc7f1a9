import { createHmac, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import ical, { ICalEventStatus } from 'ical-generator';
import { ChangeRequestSchema, type ChangeRequest } from './change-entities';
import { formatChangeId, ON_SCHEDULE_STATES } from './change-rules';

/**
 * Changes affecting a client that are scheduled or under way in [from, to). Exported for
 * other features: the status page shows planned maintenance from it, correlation (issue 7)
 * looks for recent changes near an incident.
 */
export async function changesInWindow(em: EntityManager, query: { clientId?: string; from: Date; to: Date; states?: readonly string[] }): Promise<ChangeRequest[]> {
  return em.find(
    ChangeRequestSchema,
    { state: { $in: query.states ?? ON_SCHEDULE_STATES }, windowStart: { $lt: query.to }, windowEnd: { $gt: query.from }, ...(query.clientId ? { clientIds: { $contains: [query.clientId] } } : {}) },
    { orderBy: { windowStart: 'asc', id: 'asc' } },
  );
}

/**
 * Per-client feed secret: an HMAC of the client id, so a client's calendar application can
 * subscribe without a login, and one client's token never opens another's feed.
 */
export function calendarToken(secret: string, clientId: string): string {
  return createHmac('sha256', secret).update(`change-calendar|${clientId}`).digest('base64url');
}

export function calendarTokenValid(secret: string, clientId: string, token: string): boolean {
  const expected = Buffer.from(calendarToken(secret, clientId));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The forward schedule as an RFC 5545 feed (Outlook, Google Calendar). Only what the client
 * may see: `servicesOf` names the change's services of the feed's client.
 */
export function renderIcs(changes: ChangeRequest[], calendarName: string, publicUrl: string, servicesOf: (change: ChangeRequest) => string[]): string {
  const calendar = ical({ name: calendarName, prodId: { company: 'incidentd', product: 'forward-schedule-of-change' } });
  for (const change of changes) {
    calendar.createEvent({
      id: `${formatChangeId(change.number)}@incidentd`,
      start: change.windowStart!,
      end: change.windowEnd!,
      summary: `${formatChangeId(change.number)}: ${change.title}`,
      description: `${servicesOf(change).length ? `Services: ${servicesOf(change).join(', ')}\n` : ''}Expected impact: ${change.expectedImpact || 'none expected'}\nState: ${change.state.replace(/_/g, ' ')}`,
      status: ICalEventStatus.CONFIRMED,
      url: `${publicUrl}/api/v1/changes/${formatChangeId(change.number)}`,
    });
  }
  return calendar.toString();
}
