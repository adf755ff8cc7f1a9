import { Router } from 'express';
import { z } from 'zod';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import type { ViewRenderer } from '../../platform/http/views';
import { STAFF_ROLES, type Role } from '../auth/roles';
import { formatIncidentId } from '../incidents/incident-rules';
import type { PostIncidentReview, ReviewActionItem } from './review-entities';
import type { ReviewFacts } from './review-facts';
import { reviewMarkdown, type ReviewService } from './review-service';

const WRITERS: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager'];
const READERS: readonly Role[] = STAFF_ROLES;
const expectedVersion = z.number().int().optional().describe('the version you last saw; a stale write is refused with 409');
const text = z.string().max(50_000);

function presentItem(item: ReviewActionItem) {
  return {
    id: item.id,
    title: item.title,
    owner: item.owner,
    dueAt: item.dueAt.toISOString(),
    status: item.status,
    doneAt: item.doneAt?.toISOString() ?? null,
    deferredReason: item.deferredReason,
    deferredBy: item.deferredBy,
    createdBy: item.createdBy,
    version: item.version,
  };
}

export function presentReview(review: PostIncidentReview, items: ReviewActionItem[]) {
  return {
    id: review.id,
    incidentId: formatIncidentId(review.incident.number),
    status: review.status,
    reason: review.reason,
    createdAt: review.createdAt.toISOString(),
    updatedAt: review.updatedAt.toISOString(),
    facts: review.facts as unknown as ReviewFacts,
    factsAt: review.factsAt.toISOString(),
    rootCause: review.rootCause,
    contributingFactors: review.contributingFactors,
    wentWell: review.wentWell,
    wentBadly: review.wentBadly,
    lessonsLearned: review.lessonsLearned,
    closedAt: review.closedAt?.toISOString() ?? null,
    closedBy: review.closedBy,
    actionItems: items.map(presentItem),
    version: review.version,
  };
}

const reviewId = (text: string | undefined) => {
  const id = Number(text);
  if (!Number.isInteger(id) || id <= 0) throw new NotFoundError(`no review ${text}`);
  return id;
};

/** Post-incident reviews over the API (INC-12). */
export function registerReviewRoutes(api: ApiRouter, reviews: ReviewService) {
  api.post('/incidents/:id/review', { access: { roles: WRITERS }, summary: 'Start a post-incident review (drafted from the incident); required ones start by themselves on resolve' }, async ({ principal, actor, params, res }) => {
    const requested = await reviews.request(params.id!, principal, actor);
    const { review, items } = await reviews.get(requested.id, principal);
    res.status(201);
    return presentReview(review, items);
  });

  api.get('/reviews/:id', { access: { roles: READERS }, summary: 'A post-incident review: facts, analysis, action items' }, async ({ principal, params }) => {
    const { review, items } = await reviews.get(reviewId(params.id), principal);
    return presentReview(review, items);
  });

  api.get('/reviews/:id/export.md', { access: { roles: READERS }, summary: 'The review as Markdown' }, async ({ principal, params, res }) => {
    const { review, items } = await reviews.get(reviewId(params.id), principal);
    res.type('text/markdown').set('Content-Disposition', `inline; filename="review-${formatIncidentId(review.incident.number)}.md"`).send(reviewMarkdown(review, items));
  });

  api.patch(
    '/reviews/:id',
    {
      access: { roles: WRITERS },
      summary: 'Write the analysis (root cause, contributing factors, what went well and badly, lessons); refreshFacts re-drafts the facts from the incident',
      body: z.object({ rootCause: text.optional(), contributingFactors: text.optional(), wentWell: text.optional(), wentBadly: text.optional(), lessonsLearned: text.optional(), refreshFacts: z.boolean().optional(), expectedVersion }),
    },
    async ({ principal, actor, params, body }) => {
      const id = reviewId(params.id);
      await reviews.update(id, principal, actor, body);
      const { review, items } = await reviews.get(id, principal);
      return presentReview(review, items);
    },
  );

  api.post(
    '/reviews/:id/actions',
    { access: { roles: WRITERS }, summary: 'Add an action item with an owner and a due date', body: z.object({ title: z.string().trim().min(3).max(1000), owner: z.email(), dueAt: z.iso.datetime({ offset: true }) }) },
    async ({ principal, actor, params, body, res }) => {
      const item = await reviews.addAction(reviewId(params.id), principal, actor, { ...body, dueAt: new Date(body.dueAt) });
      res.status(201);
      return presentItem(item);
    },
  );

  api.patch(
    '/reviews/:id/actions/:itemId',
    {
      access: { roles: WRITERS },
      summary: 'Update an action item: done, re-opened, or deferred (incident managers only, with a reason)',
      body: z.object({ status: z.enum(['open', 'done', 'deferred']).optional(), title: z.string().trim().min(3).max(1000).optional(), owner: z.email().optional(), dueAt: z.iso.datetime({ offset: true }).optional(), reason: z.string().max(2000).optional(), expectedVersion }),
    },
    async ({ principal, actor, params, body }) =>
      presentItem(await reviews.updateAction(reviewId(params.id), Number(params.itemId), principal, actor, { ...body, dueAt: body.dueAt ? new Date(body.dueAt) : undefined })),
  );

  api.post('/reviews/:id/close', { access: { roles: WRITERS }, summary: 'Close the review: needs root cause and lessons, and no open action item', body: z.object({ expectedVersion }) }, async ({ principal, actor, params, body }) => {
    const id = reviewId(params.id);
    await reviews.close(id, principal, actor, body);
    const { review, items } = await reviews.get(id, principal);
    return presentReview(review, items);
  });
}

/** `GET /pir/{id}`: the review as a page for staff (signed in). */
export function createReviewPage(deps: { reviews: ReviewService; views: ViewRenderer }) {
  const router = Router();
  router.get('/pir/:id', async (req, res) => {
    const principal = req.principal;
    if (!principal) throw new UnauthenticatedError();
    if (!principal.roles.some((role) => READERS.includes(role))) throw new ForbiddenError('reviews are for staff');
    const { review, items } = await deps.reviews.get(reviewId(req.params.id), principal);
    const view = presentReview(review, items);
    const timeline = view.facts.timeline.map((event) => ({ ...event, public: event.visibility === 'public' }));
    res.type('html').send(deps.views.render('pir', { title: `Review of ${view.incidentId}`, review: { ...view, facts: { ...view.facts, timeline } } }));
  });
  return router;
}
