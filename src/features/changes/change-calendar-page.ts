import type { MikroORM } from '@mikro-orm/postgresql';
import express, { type Request, type Response } from 'express';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { FreezeConfig } from '../../config/change-config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ForbiddenError, ValidationError } from '../../platform/errors';
import { zodProblems } from '../../platform/http/api-router';
import type { ViewRenderer } from '../../platform/http/views';
import { hasAnyRole } from '../auth/principal';
import { STAFF_ROLES, type Role } from '../auth/roles';
import { calendarToken, changesInWindow } from './change-calendar';
import type { ChangeRequest } from './change-entities';
import { formatChangeId } from './change-rules';

const FEED_READERS: readonly Role[] = ['admin', 'change_manager', 'account_manager'];

const calendarQuery = z.object({
  view: z.enum(['month', 'week']).default('month'),
  date: z.iso.date().optional().describe('a day in the month or week to show (YYYY-MM-DD); default today'),
  client: z.string().optional(),
});
type CalendarQuery = z.infer<typeof calendarQuery>;

interface CalendarEntry {
  id: string;
  title: string;
  state: string;
  type: string;
  time: string;
  clients: string;
}

/** The month (whole weeks, Monday first) or week around `date`, in its time zone. */
export function calendarSpan(view: 'month' | 'week', date: DateTime) {
  const first = view === 'month' ? date.startOf('month').startOf('week') : date.startOf('week');
  const last = view === 'month' ? date.endOf('month').endOf('week') : date.endOf('week');
  return { first, last, from: first.toJSDate(), to: last.plus({ milliseconds: 1 }).toJSDate() };
}

/** The days of the span, week by week, with the changes and freezes that touch each; a change over several days shows on each. */
export function calendarGrid(view: 'month' | 'week', date: DateTime, changes: ChangeRequest[], freezes: FreezeConfig[]) {
  const { first, last } = calendarSpan(view, date);
  const days = [];
  for (let day = first; day <= last; day = day.plus({ days: 1 })) {
    const [start, end] = [day.toJSDate(), day.plus({ days: 1 }).toJSDate()];
    const entries: CalendarEntry[] = changes
      .filter((change) => change.windowStart! < end && change.windowEnd! > start)
      .map((change) => ({
        id: formatChangeId(change.number),
        title: change.title,
        state: change.state,
        type: change.type,
        time: `${DateTime.fromJSDate(change.windowStart!, { zone: day.zone }).toFormat('d LLL HH:mm')} - ${DateTime.fromJSDate(change.windowEnd!, { zone: day.zone }).toFormat('d LLL HH:mm')}`,
        clients: change.clientIds.join(', '),
      }));
    days.push({
      label: day.toFormat(view === 'month' ? 'd' : 'ccc d LLL'),
      date: day.toISODate(),
      outside: view === 'month' && day.month !== date.month,
      freezes: freezes.filter((freeze) => Date.parse(freeze.start) < end.getTime() && Date.parse(freeze.end) > start.getTime()).map((freeze) => freeze.name),
      entries,
    });
  }
  const weeks = [];
  for (let i = 0; i < days.length; i += 7) weeks.push(days.slice(i, i + 7));
  return weeks;
}

/**
 * The forward schedule of change as a web page for staff (SCH-05): month or week, all
 * clients or one, with the freezes, and the per-client iCalendar feeds to subscribe to.
 * Server-rendered without scripts (the CSP allows none inline); filters are a GET form.
 */
export function createCalendarPageRouter(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; views: ViewRenderer; calendarSecret: string }) {
  const router = express.Router();

  router.get('/changes/calendar', async (req: Request, res: Response) => {
    const principal = req.principal;
    if (!principal) return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    if (!hasAnyRole(principal, STAFF_ROLES)) throw new ForbiddenError('the forward schedule page is for MSP staff; clients subscribe to their calendar feed');
    const parsed = calendarQuery.safeParse(req.query);
    if (!parsed.success) throw new ValidationError('invalid calendar parameters', zodProblems(parsed.error));
    const query: CalendarQuery = parsed.data;
    const config = deps.configStore.current;
    const client = query.client ? config.clients.find((candidate) => candidate.id === query.client) : undefined;
    if (query.client && !client) throw new ValidationError('invalid calendar parameters', [{ path: 'client', message: `unknown client "${query.client}"` }]);
    // One client's calendar is shown in its own time zone; all clients in UTC.
    const zone = client?.timezone ?? 'UTC';
    const date = query.date ? DateTime.fromISO(query.date, { zone }) : DateTime.fromJSDate(deps.clock.now(), { zone });
    const freezes = config.freezes.filter((freeze) => !freeze.clients || !client || freeze.clients.includes(client.id));
    const span = calendarSpan(query.view, date);
    const changes = await changesInWindow(deps.orm.em.fork(), { clientId: client?.id, from: span.from, to: span.to });
    const weeks = calendarGrid(query.view, date, changes, freezes);
    const step = query.view === 'month' ? { months: 1 } : { weeks: 1 };
    const link = (overrides: Partial<Record<keyof CalendarQuery, string>>) => `/changes/calendar?${new URLSearchParams({ view: query.view, date: date.toISODate()!, ...(client ? { client: client.id } : {}), ...overrides })}`;
    const feedClients = hasAnyRole(principal, FEED_READERS) ? (client ? [client] : config.clients) : [];
    res.type('html').send(
      deps.views.render('changes/calendar', {
        title: 'Forward schedule of change',
        heading: query.view === 'month' ? date.toFormat('LLLL yyyy') : `Week of ${date.startOf('week').toFormat('d LLLL yyyy')}`,
        zone,
        view: query.view,
        weekdays: weeks[0]!.map((day) => (query.view === 'month' ? DateTime.fromISO(day.date!).toFormat('ccc') : day.label)),
        weeks,
        empty: changes.length === 0,
        previous: link({ date: date.minus(step).toISODate()! }),
        next: link({ date: date.plus(step).toISODate()! }),
        otherView: { label: query.view === 'month' ? 'Week view' : 'Month view', href: link({ view: query.view === 'month' ? 'week' : 'month' }) },
        date: date.toISODate(),
        clients: config.clients.map((candidate) => ({ id: candidate.id, name: candidate.name, selected: candidate.id === client?.id })),
        feeds: feedClients.map((candidate) => ({ name: candidate.name, url: `${config.server.publicUrl}/api/v1/changes/calendar.ics?client=${encodeURIComponent(candidate.id)}&token=${calendarToken(deps.calendarSecret, candidate.id)}` })),
      }),
    );
  });

  return router;
}
