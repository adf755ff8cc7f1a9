import { z } from 'zod';
import type { ConfigStore } from '../../config/config-store';
import { NotFoundError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import { canSeeClient } from '../auth/principal';
import { STAFF_ROLES } from '../auth/roles';
import { isClientContact } from '../incidents/incident-access';
import { calendarToken, changesInWindow } from './change-calendar';
import { presentChangeForClient } from './change-presenter';

const DAY_MS = 86_400_000;

/** The forward schedule of change as JSON, and each client's calendar feed address (SCH-05). */
export function registerScheduleRoutes(api: ApiRouter, deps: { configStore: ConfigStore; calendarSecret: string }) {
  api.get(
    '/changes/schedule',
    { access: { roles: [...STAFF_ROLES, 'client_contact'] }, summary: 'Forward schedule of change: scheduled and implemented changes in a time range (default: the next 30 days)', query: z.object({ client: z.string().optional(), from: z.coerce.date().optional(), to: z.coerce.date().optional() }) },
    async ({ principal, query, em }) => {
      const clientId = isClientContact(principal) ? (principal.clientId ?? '__none__') : query.client;
      const from = query.from ?? new Date();
      const changes = await changesInWindow(em, { clientId, from, to: query.to ?? new Date(from.getTime() + 30 * DAY_MS) });
      return { items: changes.map((change) => presentChangeForClient(change, deps.configStore.current.services, clientId)) };
    },
  );

  api.get('/changes/calendar-feeds/:client', { access: { roles: ['admin', 'change_manager', 'account_manager', 'client_contact'] }, summary: "A client's iCalendar feed address (with its secret token) for Outlook or Google Calendar" }, ({ principal, params }) => {
    const client = deps.configStore.current.clients.find((candidate) => candidate.id === params.client);
    if (!client || !canSeeClient(principal, client.id)) throw new NotFoundError(`no client ${params.client}`);
    const token = calendarToken(deps.calendarSecret, client.id);
    return { client: client.id, url: `${deps.configStore.current.server.publicUrl}/api/v1/changes/calendar.ics?client=${encodeURIComponent(client.id)}&token=${token}` };
  });
}
