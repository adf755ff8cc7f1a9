import express, { type Request, type Response } from 'express';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { MikroORM } from '@mikro-orm/postgresql';
import { NotFoundError } from '../../platform/errors';
import { calendarTokenValid, changesInWindow, renderIcs } from './change-calendar';
import { parseInput, refuseInvalidUtf8 } from '../../platform/http/request-input';
import type { ViewRenderer } from '../../platform/http/views';
import { DECISIONS, type ChangeApprovals } from './change-approvals';
import type { ChangeRequest } from './change-entities';
import { clientView } from './change-notices';
import { clientServices } from './change-presenter';

const decisionForm = z.object({ decision: z.enum(DECISIONS), rationale: z.string().trim().min(3).max(5000), conditions: z.string().max(5000).optional() });

/**
 * Client approvers decide from an e-mailed, signed, one-time link (CHG-06). These routes
 * have no session: the token is the credential, so they are mounted before the session and
 * CSRF middleware. GET only shows the change (mail scanners prefetch links); POST decides.
 */
export function createChangeLinkRouter(deps: { approvals: ChangeApprovals; views: ViewRenderer; configStore: ConfigStore; orm: MikroORM; calendarSecret: string; clock: Clock }) {
  const router = express.Router();

  // The forward schedule feed for calendar applications (SCH-05): the token is per client; any doubt answers 404.
  router.get('/api/v1/changes/calendar.ics', async (req: Request, res: Response) => {
    const clientId = typeof req.query.client === 'string' ? req.query.client : '';
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const client = deps.configStore.current.clients.find((candidate) => candidate.id === clientId);
    if (!client || !calendarTokenValid(deps.calendarSecret, clientId, token)) throw new NotFoundError('no such calendar');
    const now = deps.clock.now().getTime();
    const changes = await changesInWindow(deps.orm.em.fork(), { clientId, from: new Date(now - 90 * 86_400_000), to: new Date(now + 365 * 86_400_000) });
    const { services, server } = deps.configStore.current;
    res.type('text/calendar').send(renderIcs(changes, `${client.name}: planned changes`, server.publicUrl, (change) => clientServices(services, change, clientId).map((service) => service.name)));
  });

  /** The approval page shows the client view only: what, when, this client's services, the impact (never plans, risk or CIs). */
  const page = (res: Response, change: ChangeRequest, data: { email: string; clientId: string; open: boolean; message?: string }) => {
    const config = deps.configStore.current;
    const client = config.clients.find((candidate) => candidate.id === data.clientId);
    const zone = client?.timezone ?? 'UTC';
    const local = (at: Date | null | undefined) => (at ? DateTime.fromJSDate(at, { zone }).toFormat('ccc d LLL yyyy HH:mm') : '');
    const view = clientView(config, change, data.clientId);
    res.type('html').send(
      deps.views.render('changes/approval', {
        title: `Approve ${view.id}`,
        change: view,
        window: change.windowStart ? `${local(change.windowStart)} - ${local(change.windowEnd)} (${zone})` : 'to be scheduled',
        clientName: client?.name ?? data.clientId,
        ...data,
      }),
    );
  };

  // A link that is not open (used, decided, of an earlier round, expired, tampered) answers 404.
  router.get('/changes/approvals/:token', async (req: Request, res: Response) => {
    const { change, clientId, email } = await deps.approvals.viewLink(String(req.params.token));
    page(res, change, { email, clientId, open: true });
  });

  router.post('/changes/approvals/:token', express.urlencoded({ extended: false, limit: '20kb', verify: refuseInvalidUtf8 }), async (req: Request, res: Response) => {
    const decision = parseInput(decisionForm, req.body ?? {}, 'invalid decision');
    const { email, clientId } = await deps.approvals.viewLink(String(req.params.token));
    const change = await deps.approvals.decideByLink(String(req.params.token), decision);
    page(res, change, { email, clientId, open: false, message: `Thank you: your decision (${decision.decision}) was recorded. The change is now ${change.state.replace(/_/g, ' ')}.` });
  });
  return router;
}
