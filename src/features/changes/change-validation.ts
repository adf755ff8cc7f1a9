import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { parseDuration, type IncidentdConfig } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ConflictError, NotFoundError } from '../../platform/errors';
import { parseInput, refuseInvalidUtf8 } from '../../platform/http/request-input';
import type { ViewRenderer } from '../../platform/http/views';
import type { LinkSigner } from '../../platform/security/signed-links';
import type { AuditService } from '../audit/audit-service';
import type { Outbox } from '../notifications/outbox';
import { usersWithRole } from '../users/users-with-role';
import { ChangeValidationSchema, type ChangeRequest, type ChangeValidation } from './change-entities';
import { clientView } from './change-notices';
import { formatChangeId } from './change-rules';

const PURPOSE = 'change-validation';
const answerForm = z.object({ outcome: z.enum(['works', 'problem']), note: z.string().trim().max(5000).optional() });

export type ChangeValidations = ReturnType<typeof createChangeValidations>;

/**
 * Client validation after a change (IMP-03): when a change that succeeded affects a client
 * whose change policy asks for it (`changePolicy.clientValidation`), each of the client's
 * approver contacts gets a signed, one-time link to say whether everything works. "Problem"
 * tells the implementers and change managers at once; the change closes only once the
 * client answered, or the links expired (the change manager cannot wait for ever).
 */
export function createChangeValidations(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; outbox: Outbox; audit: AuditService; signer: LinkSigner; views: ViewRenderer; validFor: () => string }) {
  const { orm, clock, configStore } = deps;

  async function load(token: string): Promise<ChangeValidation> {
    const check = deps.signer.verify(PURPOSE, token);
    const row = check.ok ? await orm.em.fork().findOne(ChangeValidationSchema, { id: Number(check.subject) }, { populate: ['change'] }) : null;
    // Tampered, expired or unknown links reveal nothing.
    if (!row) throw new NotFoundError('no such link');
    return row;
  }

  function page(res: Response, row: ChangeValidation, message?: string) {
    const config = configStore.current;
    const change = row.change as unknown as ChangeRequest;
    res.set('Referrer-Policy', 'no-referrer').type('html').send(
      deps.views.render('changes/validation', {
        title: `Validate ${formatChangeId(change.number)}`,
        change: clientView(config, change, row.clientId),
        contact: row.contactName,
        open: !row.answeredAt,
        answered: row.answeredAt ? `${row.outcome === 'works' ? 'everything works' : 'there is a problem'} (${row.answeredAt.toISOString()})` : null,
        message,
      }),
    );
  }

  const router = express.Router();
  router.get('/changes/validations/:token', async (req: Request, res: Response) => page(res, await load(String(req.params.token))));
  router.post('/changes/validations/:token', express.urlencoded({ extended: false, limit: '20kb', verify: refuseInvalidUtf8 }), async (req: Request, res: Response) => {
    const answer = parseInput(answerForm, req.body ?? {}, 'invalid answer');
    const found = await load(String(req.params.token));
    const answered = await orm.em.fork().transactional(async (em) => {
      // Locked: two clicks record one answer.
      const row = await em.findOneOrFail(ChangeValidationSchema, { id: found.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['change'] });
      if (row.answeredAt) return row;
      const now = clock.now();
      row.answeredAt = now;
      row.outcome = answer.outcome;
      row.note = answer.note || null;
      const change = row.change as unknown as ChangeRequest;
      const id = formatChangeId(change.number);
      deps.audit.record(em, { actor: { type: 'client', id: row.contactEmail, name: `${row.contactName} (${row.clientId})` }, action: 'change.client_validation', entityType: 'change', entityId: id, clientId: row.clientId, after: { outcome: row.outcome, note: row.note } });
      if (row.outcome === 'problem') {
        const managers = await usersWithRole(em, 'change_manager');
        await deps.outbox.enqueue(em, {
          kind: 'change.client_problem',
          incidentId: null,
          recipients: [...change.implementers, ...managers],
          eventKey: `change-client-problem:${row.id}`,
          subject: `${id}: ${row.contactName} (${row.clientId}) reports a problem after the change`,
          body: `${row.contactName} <${row.contactEmail}> validated ${id} (${change.title}): there is a problem.${row.note ? `\n\n${row.note}` : ''}\n\nBackout plan:\n${change.backoutPlan || '(none recorded)'}`,
        });
      }
      return row;
    });
    page(res, answered, found.answeredAt ? undefined : 'Thank you: your answer was recorded.');
  });

  return {
    router,

    /** Asks the approver contacts of each client that wants it (in the completing transaction). */
    async request(em: EntityManager, config: IncidentdConfig, change: ChangeRequest, now: Date): Promise<number> {
      const expiresAt = new Date(now.getTime() + (parseDuration(deps.validFor()) ?? 7 * 86_400_000));
      let asked = 0;
      for (const clientId of change.clientIds) {
        const client = config.clients.find((candidate) => candidate.id === clientId);
        if (!client?.changePolicy.clientValidation) continue;
        for (const contact of client.contacts.filter((candidate) => candidate.roles.includes('approver'))) {
          const row = em.create(ChangeValidationSchema, { change, clientId, contactEmail: contact.email.toLowerCase(), contactName: contact.name, createdAt: now, expiresAt });
          await em.flush();
          const url = `${config.server.publicUrl}/changes/validations/${deps.signer.sign(PURPOSE, String(row.id), expiresAt)}`;
          const id = formatChangeId(change.number);
          await deps.outbox.enqueue(em, {
            kind: 'change.validation_request',
            incidentId: null,
            clientId,
            recipients: [contact.email],
            eventKey: `change-validation:${row.id}`,
            subject: `[${client.name}] ${id} is done: does everything work?`,
            body: `Dear ${contact.name},\n\n${id} (${change.title}) was completed. Please tell us whether everything works for you:\n${url}\n\nThe link works until ${expiresAt.toISOString()}.`,
            personal: true,
          });
          asked += 1;
        }
      }
      return asked;
    },

    /** Refuses to close a change while a client's validation is still open (IMP-03). */
    async assertClosable(em: EntityManager, change: ChangeRequest, now: Date): Promise<void> {
      const open = await em.find(ChangeValidationSchema, { change, answeredAt: null, expiresAt: { $gt: now } });
      if (open.length) throw new ConflictError(`${formatChangeId(change.number)} waits for the client's validation (${open.map((row) => `${row.contactName}, ${row.clientId}, until ${row.expiresAt.toISOString()}`).join('; ')})`);
    },

    async present(em: EntityManager, change: ChangeRequest) {
      const rows = await em.find(ChangeValidationSchema, { change }, { orderBy: { id: 'asc' } });
      return rows.map((row) => ({ client: row.clientId, contact: row.contactEmail, askedAt: row.createdAt.toISOString(), expiresAt: row.expiresAt.toISOString(), answeredAt: row.answeredAt?.toISOString() ?? null, outcome: row.outcome, note: row.note }));
    },
  };
}
