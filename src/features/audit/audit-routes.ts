import { z } from 'zod';
import type { ApiRouter } from '../../platform/http/api-router';
import { presentAuditEvent, type AuditService } from './audit-service';

const auditQuery = z.object({
  entity: z.string().optional().describe('entity type, e.g. "user", or "type:id" for one record'),
  client: z.string().optional(),
  since: z.coerce.date().optional(),
  until: z.coerce.date().optional(),
  after: z.string().regex(/^\d{1,18}$/, 'expected an audit event id').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function toQuery(query: z.infer<typeof auditQuery>) {
  const [entityType, entityId] = query.entity ? query.entity.split(':', 2) : [];
  return { entityType, entityId, clientId: query.client, since: query.since, until: query.until, afterId: query.after, limit: query.limit };
}

export function registerAuditRoutes(api: ApiRouter, audit: AuditService) {
  api.get('/audit', { access: { roles: ['admin'] }, summary: 'Audit trail, oldest first, keyset-paginated with ?after=<id>', query: auditQuery }, async ({ em, query }) => {
    const events = await audit.find(em, toQuery(query));
    const last = events.at(-1);
    return { events: events.map(presentAuditEvent), next: events.length === query.limit && last ? last.id : null };
  });

  // Audit evidence export (ACC-02): streams every matching row as JSON lines, in pages, so
  // a large trail never sits in memory at once.
  api.get('/audit/export', { access: { roles: ['admin'] }, summary: 'Audit trail as JSON lines (application/x-ndjson)', query: auditQuery.omit({ limit: true }) }, async ({ em, query, res }) => {
    res.type('application/x-ndjson');
    res.setHeader('Content-Disposition', 'attachment; filename="incidentd-audit.jsonl"');
    let afterId = query.after;
    for (;;) {
      const page = await audit.find(em, { ...toQuery({ ...query, limit: 1000 }), afterId });
      for (const event of page) res.write(`${JSON.stringify(presentAuditEvent(event))}\n`);
      em.clear();
      if (page.length < 1000) break;
      afterId = page.at(-1)!.id;
    }
    res.end();
  });
}
