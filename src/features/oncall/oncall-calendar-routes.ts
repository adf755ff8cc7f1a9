import express, { type Request, type Response } from 'express';
import { ValidationError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import { STAFF_ROLES } from '../auth/roles';
import type { OncallCalendar } from './oncall-calendar';

/** Managing one's feed address (and an admin's for anyone): through the API, signed in. */
export function registerOncallCalendarRoutes(api: ApiRouter, calendar: OncallCalendar) {
  api.get('/oncall/calendar-feed', { access: { roles: STAFF_ROLES }, summary: 'Whether you have an on-call calendar feed address, and since when (the address is shown only when made)' }, ({ principal }) =>
    calendar.status(principal.userId),
  );

  api.post(
    '/oncall/calendar-feed',
    { access: { roles: STAFF_ROLES }, summary: 'A new secret address for your on-call calendar feeds (your shifts, each rotation), shown once; the previous address stops working' },
    async ({ principal, actor, res }) => {
      res.status(201);
      return calendar.rotate(principal.userId, actor);
    },
  );

  api.delete('/oncall/calendar-feed', { access: { roles: STAFF_ROLES }, summary: 'End your on-call calendar feed address' }, async ({ principal, actor }) => {
    await calendar.revoke(principal.userId, actor);
  });

  api.post(
    '/oncall/calendar-feeds/:user',
    { access: { roles: ['admin'] }, summary: "A new secret address for a member of staff's on-call calendar feeds (user id), shown once; their previous address stops working" },
    async ({ params, actor, res }) => {
      res.status(201);
      return calendar.rotate(userId(params.user), actor);
    },
  );

  api.delete('/oncall/calendar-feeds/:user', { access: { roles: ['admin'] }, summary: "End a member of staff's on-call calendar feed address (user id)" }, async ({ params, actor }) => {
    await calendar.revoke(userId(params.user), actor);
  });
}

function userId(param: string | undefined): number {
  if (!param || !/^\d{1,9}$/.test(param)) throw new ValidationError('invalid user id', [{ path: 'user', message: 'expected a user id (GET /api/v1/users)' }]);
  return Number(param);
}

/**
 * The feeds themselves, for calendar applications: no session, the token in the address is
 * the credential (request logs mask `token=`). Any doubt answers 404. Mounted before the
 * session and CSRF middleware.
 */
export function createOncallCalendarFeedRouter(calendar: OncallCalendar) {
  const router = express.Router();
  const send = (res: Response, ics: string) => {
    res.set('Cache-Control', 'private, max-age=300').type('text/calendar').send(ics);
  };
  const token = (req: Request) => (typeof req.query.token === 'string' ? req.query.token : '');

  router.get('/api/v1/oncall/calendar/shifts.ics', async (req: Request, res: Response) => {
    send(res, await calendar.personalFeed(token(req)));
  });
  router.get('/api/v1/oncall/calendar/rotations/:rotation.ics', async (req: Request, res: Response) => {
    send(res, await calendar.rotationFeed(token(req), String(req.params.rotation)));
  });
  return router;
}
