import type { EntityManager } from '@mikro-orm/postgresql';
import { DateTime } from 'luxon';
import type { IncidentdConfig } from '../../config/config-schema';
import type { Outbox } from '../notifications/outbox';
import type { ChangeRequest } from './change-entities';
import { formatChangeId } from './change-rules';

/**
 * Change communications (COM-01..03): every notice is an outbox row written in the
 * transaction of the event it reports, with an event key that names the event, so one
 * event never yields two messages to the same person.
 */
export type ClientNoticeKind = 'scheduled' | 'reminder' | 'postponed' | 'cancelled' | 'completed';

/** Active users holding a role, by e-mail. */
export async function usersWithRole(em: EntityManager, role: string): Promise<string[]> {
  const rows = await em.getConnection().execute<{ email: string }[]>(
    'select distinct u.email from role_grant g join app_user u on u.id = g.user_id where g.role = ? and g.revoked_at is null and u.disabled_at is null order by u.email',
    [role],
    'all',
    em.getTransactionContext(),
  );
  return rows.map((row) => row.email);
}

/** Who is told about changes affecting a client: its primary and notify contacts and its account manager. */
export function clientNoticeRecipients(config: IncidentdConfig, clientId: string): string[] {
  const client = config.clients.find((candidate) => candidate.id === clientId);
  if (!client) return [];
  return [...client.contacts.filter((contact) => contact.roles.some((role) => role === 'primary' || role === 'notify')).map((contact) => contact.email), client.accountManager];
}

function localWindow(change: ChangeRequest, timezone: string): string {
  if (!change.windowStart || !change.windowEnd) return 'not scheduled';
  const format = (at: Date) => DateTime.fromJSDate(at, { zone: timezone }).toFormat("ccc d LLL yyyy HH:mm");
  return `${format(change.windowStart)} - ${format(change.windowEnd)} (${timezone})`;
}

const HEADLINES: Record<ClientNoticeKind, string> = {
  scheduled: 'Planned change',
  reminder: 'Reminder: planned change',
  postponed: 'Planned change moved',
  cancelled: 'Planned change cancelled',
  completed: 'Change completed',
};

export function createChangeNotices(deps: { outbox: Outbox; publicUrl: () => string }) {
  const { outbox } = deps;

  return {
    /** A notice to every affected client's contacts (COM-01, COM-02); significant changes also to the account manager (COM-03). */
    async toClients(em: EntityManager, config: IncidentdConfig, change: ChangeRequest, kind: ClientNoticeKind, options: { detail?: string; onlyClient?: string } = {}): Promise<void> {
      const id = formatChangeId(change.number);
      for (const clientId of change.clientIds) {
        if (options.onlyClient && options.onlyClient !== clientId) continue;
        const client = config.clients.find((candidate) => candidate.id === clientId);
        if (!client) continue;
        const services = config.services.filter((service) => change.serviceIds.includes(service.id)).map((service) => service.name);
        const lines = [
          `${HEADLINES[kind]} ${id}: ${change.title}`,
          '',
          `When: ${localWindow(change, client.timezone)}`,
          services.length ? `Services: ${services.join(', ')}` : '',
          `Expected impact: ${change.expectedImpact || 'none expected'}`,
          change.outcome ? `Outcome: ${change.outcome.replace(/_/g, ' ')}` : '',
          options.detail ?? '',
          client.branding?.signature ?? '',
        ].filter((line, i) => i < 2 || line !== '');
        await outbox.enqueue(em, {
          kind: `change.${kind}`,
          incidentId: null,
          recipients: clientNoticeRecipients(config, clientId),
          subject: `[${client.name}] ${HEADLINES[kind]} ${id}: ${change.title}`,
          body: lines.join('\n'),
          // The window is part of the event: moving the change again is a new notice.
          eventKey: `change:${id}:${kind}:${clientId}:${change.windowStart?.toISOString() ?? 'unscheduled'}`,
        });
      }
    },

    /** A message to MSP staff (approval requests, decisions, escalations, overruns). */
    async toStaff(em: EntityManager, change: ChangeRequest, message: { kind: string; recipients: string[]; subject: string; body: string; eventKey: string }): Promise<void> {
      const id = formatChangeId(change.number);
      await outbox.enqueue(em, {
        kind: message.kind,
        incidentId: null,
        recipients: message.recipients,
        subject: `${id}: ${message.subject}`,
        body: `${message.body}\n\n${deps.publicUrl()}/api/v1/changes/${id}`,
        eventKey: `change:${id}:${message.eventKey}`,
      });
    },

    /** An approval request to one client approver, with their own signed link (CHG-06, COM-01). */
    async approvalLink(em: EntityManager, config: IncidentdConfig, change: ChangeRequest, input: { approvalId: number; clientId: string; email: string; link: string; expiresAt: Date }): Promise<void> {
      const id = formatChangeId(change.number);
      const client = config.clients.find((candidate) => candidate.id === input.clientId);
      await outbox.enqueue(em, {
        kind: 'change.approval_request',
        incidentId: null,
        recipients: [input.email],
        subject: `[${client?.name ?? input.clientId}] Your approval is requested for ${id}: ${change.title}`,
        body: [
          `${change.title}`,
          '',
          change.description,
          `When: ${client ? localWindow(change, client.timezone) : 'to be scheduled'}`,
          `Expected impact: ${change.expectedImpact || 'none expected'}`,
          `Risk: ${change.riskLevel ?? 'not assessed'}`,
          '',
          `Review and decide (approve, approve with conditions, reject or defer): ${input.link}`,
          `The link works once and expires ${input.expiresAt.toISOString()}.`,
        ].join('\n'),
        eventKey: `change:${id}:approval:${input.approvalId}`,
      });
    },
  };
}
export type ChangeNotices = ReturnType<typeof createChangeNotices>;
