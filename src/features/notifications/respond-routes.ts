import { Router, type Request } from 'express';
import { z } from 'zod';
import type { ConfigStore } from '../../config/config-store';
import { safeParseInput } from '../../platform/http/request-input';
import type { ViewRenderer } from '../../platform/http/views';
import { formatTime } from './email-templates';
import type { FeedbackView, RestorationFeedbackService } from './restoration-feedback';

const RATINGS = [
  { value: 1, label: 'very poor' },
  { value: 2, label: 'poor' },
  { value: 3, label: 'fair' },
  { value: 4, label: 'good' },
  { value: 5, label: 'excellent' },
];

const answerForm = z.object({
  answer: z.enum(['restored', 'not_fixed']),
  rating: z.coerce.number().int().min(1).max(5).optional().or(z.literal('').transform(() => undefined)),
  comment: z.string().max(2000).optional(),
});

/**
 * Pages behind links in client e-mails (no login: the signed token is the credential).
 * GET only shows; POST decides. Mounted before the session and CSRF middleware: a
 * forged form cannot know the token.
 */
export function createRespondRoutes(deps: { feedback: RestorationFeedbackService; views: ViewRenderer; configStore: ConfigStore }) {
  const router = Router();

  function page(view: FeedbackView, req: Request): string {
    const zoneOf = (clientId: string) => deps.configStore.current.clients.find((client) => client.id === clientId)?.timezone ?? 'UTC';
    const data: Record<string, unknown> = { title: 'Confirm service restoration', [view.state]: true };
    if (view.state === 'expired') data.expiresAt = formatTime(view.expiresAt, 'UTC');
    if (view.state === 'answered' || view.state === 'open' || view.state === 'thanks') {
      const zone = zoneOf(view.feedback.clientId);
      Object.assign(data, {
        incidentId: view.incidentId,
        name: view.feedback.contactName,
        resolvedAt: formatTime(view.feedback.resolvedAt, zone),
        respondedAt: formatTime(view.feedback.respondedAt, zone),
        outcomeText: view.feedback.outcome === 'restored' ? 'service restored' : 'not fixed',
      });
    }
    if (view.state === 'thanks') data.effect = view.effect;
    if (view.state === 'open') {
      data.ratings = RATINGS;
      data.preselectRestored = req.query.answer === 'restored';
      data.preselectNotFixed = req.query.answer === 'not_fixed';
    }
    return deps.views.render('respond-restoration', data);
  }

  const statusOf = (view: FeedbackView) => (view.state === 'invalid' ? 404 : view.state === 'expired' ? 410 : 200);

  router.get('/respond/restoration/:token', async (req, res) => {
    const view = await deps.feedback.view(req.params.token);
    // The token is in the URL: keep it out of other sites' Referer headers.
    res.set('Referrer-Policy', 'no-referrer').status(statusOf(view)).type('html').send(page(view, req));
  });

  router.post('/respond/restoration/:token', async (req, res) => {
    const parsed = safeParseInput(answerForm, req.body ?? {});
    if (!parsed.success) {
      const view = await deps.feedback.view(req.params.token);
      res.status(view.state === 'open' ? 400 : statusOf(view)).type('html').send(page(view, req));
      return;
    }
    const view = await deps.feedback.respond(req.params.token, parsed.data);
    res.set('Referrer-Policy', 'no-referrer').status(statusOf(view)).type('html').send(page(view, req));
  });

  return router;
}
