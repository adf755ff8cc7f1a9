import { z } from 'zod';
import type { Clock } from '../../platform/clock';
import { ValidationError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import { formatIncidentId } from '../incidents/incident-rules';
import { RestorationFeedbackSchema } from '../notifications/communication-entities';
import { slaReport } from './sla-report';

const REPORT_READERS = ['admin', 'incident_manager', 'account_manager'] as const;
const period = z.object({ client: z.string().optional(), from: z.coerce.date().optional(), to: z.coerce.date().optional() });

/** Compliance evidence (INC-13): SLA performance and client satisfaction, per client and period. */
export function registerReportRoutes(api: ApiRouter, deps: { clock: Clock; knownClient: (id: string) => boolean }) {
  /** Default period: the last 30 days. */
  function periodOf(query: z.infer<typeof period>) {
    if (query.client && !deps.knownClient(query.client)) throw new ValidationError('unknown client', [{ path: 'client', message: `no client "${query.client}"` }]);
    const to = query.to ?? deps.clock.now();
    const from = query.from ?? new Date(to.getTime() - 30 * 86_400_000);
    if (from >= to) throw new ValidationError('empty period', [{ path: 'from', message: 'must be before to' }]);
    return { client: query.client, from, to };
  }

  api.get(
    '/reports/sla',
    {
      access: { roles: REPORT_READERS },
      summary: 'SLA performance (INC-13): per client, severity and clock, met / breached / running, compliance, mean and p90 time, for incidents logged from `from` to `to`, both included (default: the last 30 days)',
      query: period,
    },
    async ({ em, query }) => slaReport(em, periodOf(query)),
  );

  api.get(
    '/reports/satisfaction',
    {
      access: { roles: REPORT_READERS },
      summary: 'Client satisfaction from restoration e-mails (INC-13): response rate, average rating, distribution, answers, for resolutions from `from` to `to`, both included (default: the last 30 days)',
      query: period,
    },
    async ({ em, query }) => {
      const { client, from, to } = periodOf(query);
      const rows = await em.find(RestorationFeedbackSchema, { ...(client ? { clientId: client } : {}), resolvedAt: { $gte: from, $lte: to } }, { orderBy: { id: 'asc' }, populate: ['incident'] });
      const answered = rows.filter((row) => row.respondedAt);
      const rated = answered.filter((row) => row.rating != null);
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        linksSent: rows.length,
        answered: answered.length,
        responseRate: rows.length ? answered.length / rows.length : null,
        confirmedRestored: answered.filter((row) => row.outcome === 'restored').length,
        reportedNotFixed: answered.filter((row) => row.outcome === 'not_fixed').length,
        averageRating: rated.length ? rated.reduce((sum, row) => sum + row.rating!, 0) / rated.length : null,
        distribution: Object.fromEntries([1, 2, 3, 4, 5].map((rating) => [rating, rated.filter((row) => row.rating === rating).length])),
        answers: answered.map((row) => ({
          incidentId: formatIncidentId(row.incident.number),
          clientId: row.clientId,
          contact: row.contactEmail,
          outcome: row.outcome,
          rating: row.rating,
          comment: row.comment,
          respondedAt: row.respondedAt!.toISOString(),
        })),
      };
    },
  );
}
