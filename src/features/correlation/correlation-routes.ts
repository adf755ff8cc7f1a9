import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { ApiRouter } from '../../platform/http/api-router';
import type { Principal } from '../auth/principal';
import type { Role } from '../auth/roles';
import { STAFF_ROLES } from '../auth/roles';
import type { Incident } from '../incidents/incident-entities';
import { presentIncident } from '../incidents/incident-presenter';
import { CONFIRM_OUTCOMES, type CorrelationService } from './correlation-service';

const RESPONDERS: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager'];

/** Suspect changes over the API (REL-01): read, confirm, dismiss; and a change's incidents. */
export function registerCorrelationRoutes(api: ApiRouter, correlation: CorrelationService, loadIncident: (em: EntityManager, idText: string, principal: Principal) => Promise<Incident>) {
  api.get('/incidents/:id/suspects', { access: { roles: RESPONDERS }, summary: 'Suspect changes of an incident, best first, with the reason each was ranked (REL-01)' }, async ({ em, principal, params }) => ({
    items: await correlation.suspectsOf(em, await loadIncident(em, params.id!, principal)),
  }));

  api.post(
    '/incidents/:id/suspects/:change/confirm',
    {
      access: { roles: RESPONDERS },
      summary: "Confirm the incident was caused by this change (CHG-… or DEP-…): an RFC recorded as successful gets the chosen outcome (failed or successful_with_issues, the default; the suspect's outcomeChoices), its backout plan shown, a review required; a deploy without an approved RFC is recorded as unauthorized",
      body: z.object({ outcome: z.enum(CONFIRM_OUTCOMES).optional(), note: z.string().trim().max(2000).optional() }),
    },
    async ({ principal, actor, params, body }) => presentIncident(await correlation.confirm(params.id!, params.change!, principal, actor, body)),
  );

  api.post(
    '/incidents/:id/suspects/:change/dismiss',
    { access: { roles: RESPONDERS }, summary: 'Dismiss a suspect change with a reason', body: z.object({ reason: z.string().trim().min(3).max(2000) }) },
    async ({ principal, actor, params, body }) => presentIncident(await correlation.dismiss(params.id!, params.change!, principal, actor, body)),
  );

  api.get('/changes/:id/incidents', { access: { roles: STAFF_ROLES }, summary: 'Incidents linked to a change: suspected, confirmed, dismissed, or held as expected during it' }, async ({ em, params, principal }) =>
    correlation.incidentsOfChange(em, params.id!, principal),
  );
}
