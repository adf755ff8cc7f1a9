import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/**
 * A post-incident review (INC-12): drafted from what happened (`facts`), completed by staff
 * (root cause, contributing factors, what went well and badly, lessons), closed once its
 * action items are done or explicitly deferred.
 */
export const PostIncidentReviewSchema = defineEntity({
  name: 'PostIncidentReview',
  tableName: 'post_incident_review',
  properties: {
    id: p.integer().primary().autoincrement(),
    incident: () => p.oneToOne(IncidentSchema).owner().unique().deleteRule('cascade'),
    // draft | closed
    status: p.text(),
    // Why it exists: sev1 | recurring | change | requested
    reason: p.text(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    // What happened, drafted from the incident (timeline, impact, response evaluation).
    facts: p.json<Record<string, unknown>>(),
    factsAt: p.datetime(),
    rootCause: p.text().default(''),
    contributingFactors: p.text().default(''),
    wentWell: p.text().default(''),
    wentBadly: p.text().default(''),
    lessonsLearned: p.text().default(''),
    closedAt: p.datetime().nullable(),
    closedBy: p.text().nullable(),
    version: p.integer().version(),
  },
});
export type PostIncidentReview = InferEntity<typeof PostIncidentReviewSchema>;

/** An action item of a review, tracked until done (or deferred by an incident manager, with a reason). */
export const ReviewActionItemSchema = defineEntity({
  name: 'ReviewActionItem',
  properties: {
    id: p.integer().primary().autoincrement(),
    review: () => p.manyToOne(PostIncidentReviewSchema).deleteRule('cascade').index(),
    title: p.text(),
    // E-mail of the person who owns it.
    owner: p.text(),
    dueAt: p.datetime(),
    // open | done | deferred
    status: p.text(),
    createdAt: p.datetime(),
    createdBy: p.text(),
    doneAt: p.datetime().nullable(),
    deferredReason: p.text().nullable(),
    deferredBy: p.text().nullable(),
    lastRemindedAt: p.datetime().nullable(),
    version: p.integer().version(),
  },
});
export type ReviewActionItem = InferEntity<typeof ReviewActionItemSchema>;
