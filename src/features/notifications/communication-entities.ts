import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { IncidentSchema } from '../incidents/incident-entities';

/** Where the client communication of one incident stands (INC-09): first notice, update cadence, restoration. */
export const IncidentCommunicationSchema = defineEntity({
  name: 'IncidentCommunication',
  properties: {
    incident: () => p.oneToOne(IncidentSchema).primary().owner().deleteRule('cascade'),
    clientId: p.text(),
    startedAt: p.datetime(),
    // When the client was first told; null while the first notice waits.
    initialNoticeAt: p.datetime().nullable(),
    // The last update e-mailed to the client (the first notice counts).
    lastUpdateAt: p.datetime().nullable(),
    updatesSent: p.integer().default(0),
    // When the next update is due; null when no cadence runs (resolved, below Sev2, security).
    nextUpdateDueAt: p.datetime().nullable(),
    restorationNoticeAt: p.datetime().nullable(),
  },
});
export type IncidentCommunication = InferEntity<typeof IncidentCommunicationSchema>;

/**
 * One client contact's answer to a restoration e-mail (INC-05 client validation,
 * INC-13 satisfaction). The e-mailed link names this row; it works once, until it expires.
 */
export const RestorationFeedbackSchema = defineEntity({
  name: 'RestorationFeedback',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    incident: () => p.manyToOne(IncidentSchema).deleteRule('cascade').index(),
    clientId: p.text().index(),
    contactEmail: p.text(),
    contactName: p.text(),
    // The resolution this link is about: a re-opened and re-resolved incident gets new links.
    resolvedAt: p.datetime(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
    respondedAt: p.datetime().nullable(),
    // restored | not_fixed
    outcome: p.text().nullable(),
    // 1..5
    rating: p.smallint().nullable(),
    comment: p.text().nullable(),
  },
});
export type RestorationFeedback = InferEntity<typeof RestorationFeedbackSchema>;
