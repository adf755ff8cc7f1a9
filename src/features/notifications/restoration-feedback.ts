import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../../platform/clock';
import type { LinkSigner } from '../../platform/security/signed-links';
import type { Actor } from '../audit/audit-service';
import { formatIncidentId, type IncidentState } from '../incidents/incident-rules';
import type { IncidentService } from '../incidents/incident-service';
import type { TimelineEntry } from '../incidents/incident-timeline';
import { RESTORATION_LINK_PURPOSE } from './client-communications';
import { RestorationFeedbackSchema, type RestorationFeedback } from './communication-entities';

export type FeedbackAnswer = 'restored' | 'not_fixed';

/** What the restoration page shows for a link. */
export type FeedbackView =
  | { state: 'invalid' }
  | { state: 'expired'; expiresAt: Date }
  | { state: 'answered'; feedback: RestorationFeedback; incidentId: string }
  | { state: 'open'; feedback: RestorationFeedback; incidentId: string }
  | { state: 'thanks'; feedback: RestorationFeedback; incidentId: string; effect: string };

/**
 * A client contact's answer to the restoration e-mail (INC-05 closure by client validation,
 * INC-13 satisfaction). Only the POST decides (mail scanners open GET links). "Restored"
 * closes a resolved incident, "not fixed" re-opens it; either way the rating and comment
 * are kept for reports. A link works once, until it expires, and only for the resolution
 * it was sent for (an incident re-opened and resolved again sends new links).
 */
export function createRestorationFeedback(deps: { orm: MikroORM; clock: Clock; links: LinkSigner; incidents: IncidentService }) {
  async function load(token: string): Promise<FeedbackView | { state: 'found'; feedback: RestorationFeedback; incidentId: string }> {
    const check = deps.links.verify(RESTORATION_LINK_PURPOSE, token);
    if (!check.ok) return check.reason === 'expired' ? { state: 'expired', expiresAt: check.expiresAt! } : { state: 'invalid' };
    const feedback = await deps.orm.em.fork().findOne(RestorationFeedbackSchema, { id: check.subject }, { populate: ['incident'] });
    if (!feedback) return { state: 'invalid' };
    return { state: 'found', feedback, incidentId: formatIncidentId(feedback.incident.number) };
  }

  return {
    async view(token: string): Promise<FeedbackView> {
      const found = await load(token);
      if (found.state !== 'found') return found;
      return { state: found.feedback.respondedAt ? 'answered' : 'open', feedback: found.feedback, incidentId: found.incidentId };
    },

    async respond(token: string, input: { answer: FeedbackAnswer; rating?: number; comment?: string }): Promise<FeedbackView> {
      const found = await load(token);
      if (found.state !== 'found') return found;
      if (found.feedback.respondedAt) return { state: 'answered', feedback: found.feedback, incidentId: found.incidentId };
      const actor: Actor = { type: 'client', id: found.feedback.contactEmail, name: `${found.feedback.contactName} (${found.feedback.clientId})` };
      let answered: RestorationFeedback | null = null;
      let effect = '';
      await deps.incidents.updateBySystem(found.incidentId, actor, { action: 'incident.client_feedback' }, async (incident, em, now) => {
        // Locked: two clicks at once record one answer.
        const feedback = await em.findOneOrFail(RestorationFeedbackSchema, { id: found.feedback.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (feedback.respondedAt) {
          answered = feedback;
          return [];
        }
        feedback.respondedAt = now;
        feedback.outcome = input.answer;
        feedback.rating = input.rating ?? null;
        feedback.comment = input.comment?.trim() || null;
        const said = `${input.answer === 'restored' ? 'confirmed the restoration' : 'reports it is NOT fixed'}${feedback.rating ? `; rating ${feedback.rating}/5` : ''}${feedback.comment ? `: ${feedback.comment}` : ''}`;
        const entries: TimelineEntry[] = [{ type: 'client.feedback', message: `${actor.name} ${said}`, data: { outcome: input.answer, rating: feedback.rating, feedbackId: feedback.id } }];
        const current = incident.state === 'resolved' && incident.resolvedAt?.getTime() === feedback.resolvedAt.getTime();
        if (!current) {
          effect = incident.state === 'closed' ? 'The incident was already closed; the service desk has your answer.' : 'The incident has changed since this e-mail; the service desk has your answer.';
          if (input.answer === 'not_fixed') entries.push({ type: 'client.feedback', message: `client reports ${formatIncidentId(incident.number)} not fixed after it was ${incident.state}: follow up with ${feedback.contactName} <${feedback.contactEmail}>`, data: { followUp: true } });
        } else if (input.answer === 'restored') {
          await deps.incidents.changeState(em, incident, 'closed', now);
          entries.push({ type: 'state.changed', message: `resolved -> closed: restoration confirmed by the client (${feedback.contactName})`, data: { from: 'resolved', to: 'closed', reason: 'client validation' } });
          effect = 'Thank you for confirming. We have closed the incident.';
        } else {
          await deps.incidents.changeState(em, incident, 'investigating' as IncidentState, now);
          entries.push({ type: 'state.changed', message: `resolved -> investigating: the client (${feedback.contactName}) reports it is not fixed${feedback.comment ? `: ${feedback.comment}` : ''}`, data: { from: 'resolved', to: 'investigating', reason: 'client reports not fixed' } });
          effect = 'We have re-opened the incident and our engineers are on it again.';
        }
        answered = feedback;
        return entries;
      });
      const feedback = answered as RestorationFeedback | null;
      if (!feedback) return { state: 'invalid' };
      return effect ? { state: 'thanks', feedback, incidentId: found.incidentId, effect } : { state: 'answered', feedback, incidentId: found.incidentId };
    },
  };
}
export type RestorationFeedbackService = ReturnType<typeof createRestorationFeedback>;
