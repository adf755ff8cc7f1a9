import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { ApiRouter } from '../../platform/http/api-router';
import type { Logger } from '../../platform/logger';
import { AuditEventSchema } from '../audit/audit-event-entity';
import type { AuditService } from '../audit/audit-service';
import type { Outbox } from '../notifications/outbox';
import { atDailyDigestTime, createDailyJob } from '../timers/daily-job';
import type { UserService } from './user-service';
import { usersWithRole } from './users-with-role';

const SIGNED_OFF = 'access_review.signed_off';

/**
 * The periodic access review (ACC-01): an admin reads who holds which role and signs the
 * review off (recorded in the append-only audit trail, with the grants as they were). When
 * the last sign-off is older than `accessReview.every`, admins are reminded once a day.
 */
export function createAccessReview(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; audit: AuditService; users: UserService; outbox: Outbox; logger: Logger; runnerId: string }) {
  const everyMs = () => parseDuration(deps.configStore.current.accessReview.every) ?? 90 * 86_400_000;

  async function lastSignOff(em: EntityManager) {
    const row = await em.findOne(AuditEventSchema, { action: SIGNED_OFF }, { orderBy: { id: 'desc' } });
    return row ? { at: row.at, by: row.actorName, note: (row.after as { note?: string } | null)?.note ?? null } : null;
  }

  /** Due `every` after the last sign-off; never signed off: `every` after the first audited event (the installation). */
  async function nextDueAt(em: EntityManager, last: { at: Date } | null): Promise<Date> {
    const [first] = last ? [] : await em.find(AuditEventSchema, {}, { orderBy: { id: 'asc' }, limit: 1 });
    return new Date((last?.at ?? first?.at ?? deps.clock.now()).getTime() + everyMs());
  }

  const reminders = createDailyJob({
    name: 'access-review-reminder',
    orm: deps.orm,
    clock: deps.clock,
    logger: deps.logger,
    runnerId: deps.runnerId,
    ...atDailyDigestTime(deps.configStore),
    async work(em, scheduledFor) {
      const last = await lastSignOff(em);
      const due = await nextDueAt(em, last);
      if (due > deps.clock.now()) return;
      const admins = await usersWithRole(em, 'admin');
      await deps.outbox.enqueue(em, {
        kind: 'access.review_due',
        incidentId: null,
        recipients: admins,
        eventKey: `access-review-due:${scheduledFor.toISOString()}`,
        subject: `Access review overdue since ${due.toISOString().slice(0, 10)}`,
        body: `The periodic access review (every ${deps.configStore.current.accessReview.every}) is due${last ? `; the last sign-off was on ${last.at.toISOString()} by ${last.by}` : '; it was never signed off'}.\n\nReview who holds which role at GET /api/v1/access-review and sign it off with POST /api/v1/access-review/sign-off.\n${deps.configStore.current.server.publicUrl}/api/v1/access-review`,
      });
    },
  });

  return {
    reminders,
    register(api: ApiRouter): void {
      api.get(
        '/access-review',
        { access: { roles: ['admin'] }, summary: 'Access review (ACC-01): who holds (or held) which role, granted by whom, since when; the last sign-off and when the next is due' },
        async ({ em }) => {
          const last = await lastSignOff(em);
          return { generatedAt: deps.clock.now().toISOString(), lastSignOff: last && { ...last, at: last.at.toISOString() }, nextDueAt: (await nextDueAt(em, last)).toISOString(), grants: await deps.users.accessReview() };
        },
      );
      api.post(
        '/access-review/sign-off',
        { access: { roles: ['admin'] }, summary: 'Sign the access review off (recorded with the grants as they are now in the audit trail)', body: z.object({ note: z.string().trim().min(3).max(5000) }) },
        async ({ em, actor, body, requestId, res }) => {
          const grants = (await deps.users.accessReview()).filter((grant) => grant.active);
          deps.audit.record(em, { actor, action: SIGNED_OFF, entityType: 'access_review', entityId: deps.clock.now().toISOString().slice(0, 10), after: { note: body.note, activeGrants: grants.map((grant) => `${grant.user.email}:${grant.role}${grant.clientId ? `:${grant.clientId}` : ''}`) }, requestId });
          await em.flush();
          res.status(201);
          const last = await lastSignOff(em);
          return { lastSignOff: last && { ...last, at: last.at.toISOString() }, nextDueAt: (await nextDueAt(em, last)).toISOString() };
        },
      );
    },
  };
}
