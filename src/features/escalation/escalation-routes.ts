import { z } from 'zod';
import type { ApiRouter } from '../../platform/http/api-router';
import type { Role } from '../auth/roles';
import { presentIncident } from '../incidents/incident-presenter';
import type { EscalationService } from './escalation-service';

const ESCALATORS: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager', 'account_manager'];

export function registerEscalationRoutes(api: ApiRouter, escalation: EscalationService) {
  api.post(
    '/incidents/:id/escalate',
    {
      access: { roles: ESCALATORS },
      summary: 'Escalate (INC-08): technical (to the next tier, or a named team) or managerial (incident managers and the account manager), with a reason',
      body: z.object({ type: z.enum(['technical', 'managerial']), team: z.string().optional(), reason: z.string().trim().min(3).max(2000) }),
    },
    async ({ principal, actor, params, body, requestId }) => presentIncident(await escalation.escalate(params.id!, principal, actor, { ...body, requestId })),
  );
}
