import type { EntityManager } from '@mikro-orm/postgresql';
import type { ClientConfig, IncidentdConfig } from '../../config/config-schema';
import { senderName } from '../notifications/email-channel';
import type { Branding, EmailTemplates } from '../notifications/email-templates';
import { NotificationSchema } from '../notifications/notification-entities';
import type { Outbox } from '../notifications/outbox';
import type { ChangeRequest } from './change-entities';
import { clientServices } from './change-presenter';
import { formatChangeId } from './change-rules';
import type { Window } from './change-scheduling';

/**
 * Change communications (COM-01..03): every notice is an outbox row written in the
 * transaction of the event it reports, with an event key that names the event, so one
 * event never yields two messages to the same person.
 */
export type ClientNoticeKind = 'scheduled' | 'emergency' | 'reminder' | 'postponed' | 'on_hold' | 'cancelled' | 'completed';

/** Active users holding a role, by e-mail. */
/** Who is told about changes affecting a client: its primary and notify contacts and its account manager. */
export function clientNoticeRecipients(config: IncidentdConfig, clientId: string): string[] {
  const client = config.clients.find((candidate) => candidate.id === clientId);
  if (!client) return [];
  return [...client.contacts.filter((contact) => contact.roles.some((role) => role === 'primary' || role === 'notify')).map((contact) => contact.email), client.accountManager];
}

const NOTICES: Record<ClientNoticeKind, { headline: string; intro: string }> = {
  scheduled: { headline: 'Planned change', intro: 'We have planned a change that affects your services.' },
  emergency: { headline: 'Emergency change', intro: 'We need to make an urgent change to your services to prevent or resolve a problem.' },
  reminder: { headline: 'Reminder: planned change', intro: 'A reminder: the planned change below starts soon.' },
  postponed: { headline: 'Planned change moved', intro: 'The planned change below has been moved to a new time.' },
  // Moved out of its approved window: the new time waits for approval, so it is not announced yet.
  on_hold: { headline: 'Planned change postponed', intro: 'The planned change below will not take place at the time we announced. We will tell you the new time once it is confirmed.' },
  cancelled: { headline: 'Planned change cancelled', intro: 'The planned change below has been cancelled; nothing will change.' },
  completed: { headline: 'Change completed', intro: 'The change below has been carried out successfully.' },
};

/** The completion notice says what happened (IMP-04 outcomes): a failed or backed-out change was not carried out. */
const COMPLETED_BY_OUTCOME: Record<string, { headline: string; intro: string }> = {
  successful: NOTICES.completed,
  successful_with_issues: { headline: 'Change completed', intro: 'The change below has been carried out, with some issues; we are following them up.' },
  failed: { headline: 'Change not completed', intro: 'The change below could not be completed as planned; we are restoring normal service.' },
  backed_out: { headline: 'Change reversed', intro: 'The change below was not completed and has been reversed (backed out); your services are as they were before.' },
};

function wordingOf(kind: ClientNoticeKind, change: ChangeRequest) {
  return kind === 'completed' ? (COMPLETED_BY_OUTCOME[change.outcome ?? ''] ?? NOTICES.completed) : NOTICES[kind];
}

function brandOf(client: ClientConfig): Branding {
  return { name: client.branding?.name ?? client.name, logoUrl: client.branding?.logoUrl, signature: client.branding?.signature };
}

/**
 * What a client may read about a change: what, when, which of its own services, the impact;
 * never CIs, plans, people, risk scores or other clients' services (e-mails, the approval page).
 */
export function clientView(config: IncidentdConfig, change: ChangeRequest, clientId: string) {
  return {
    id: formatChangeId(change.number),
    title: change.title,
    description: change.description,
    emergency: change.type === 'emergency',
    window: change.windowStart && change.windowEnd ? { start: change.windowStart.toISOString(), end: change.windowEnd.toISOString() } : null,
    services: clientServices(config.services, change, clientId).map((service) => service.name),
    expectedImpact: change.expectedImpact,
    outcome: change.outcome?.replace(/_/g, ' ') ?? null,
  };
}

/** Notices that can be sent again for the same window start (a move, a new approval round). */
const VERSIONED_NOTICES = new Set<ClientNoticeKind>(['scheduled', 'emergency', 'postponed', 'on_hold']);
/** The notices that tell clients what stands of a change: a time, no time yet, or off. */
const STANDING_NOTICES: ClientNoticeKind[] = ['scheduled', 'emergency', 'postponed', 'on_hold', 'cancelled'];
/** Of those, the ones that announce a time. */
export const TIME_ANNOUNCED: ClientNoticeKind[] = ['scheduled', 'emergency', 'postponed'];

export function createChangeNotices(deps: { outbox: Outbox; templates: EmailTemplates; publicUrl: () => string }) {
  const { outbox, templates } = deps;

  return {
    /** A branded notice to every affected client's contacts and account manager (COM-01, COM-02). */
    async toClients(em: EntityManager, config: IncidentdConfig, change: ChangeRequest, kind: ClientNoticeKind, options: { previousStart?: Date; reason?: string; onlyClient?: string } = {}): Promise<void> {
      const id = formatChangeId(change.number);
      for (const clientId of change.clientIds) {
        if (options.onlyClient && options.onlyClient !== clientId) continue;
        const client = config.clients.find((candidate) => candidate.id === clientId);
        if (!client) continue;
        const view = clientView(config, change, clientId);
        // An unconfirmed time is never announced as the plan.
        if (kind === 'on_hold') view.window = null;
        const email = templates.render('change-notice', { ...wordingOf(kind, change), client: { name: client.name }, timezone: client.timezone, change: view, previousStart: options.previousStart?.toISOString() ?? null, reason: options.reason ?? null }, brandOf(client));
        await outbox.enqueue(em, {
          kind: `change.${kind}`,
          incidentId: null,
          clientId,
          recipients: clientNoticeRecipients(config, clientId),
          subject: email.subject,
          body: email.text,
          html: email.html,
          // The window is part of the event; each move is an event of its own (also back to an
          // earlier window, or the same start after a round of approval), hence the version.
          eventKey: `change:${id}:${kind}:${clientId}:${change.windowStart?.toISOString() ?? 'unscheduled'}${VERSIONED_NOTICES.has(kind) ? `:v${change.version}` : ''}`,
        });
      }
    },

    /**
     * What the clients were last told of this change ("scheduled", "emergency", "postponed",
     * "on_hold", "cancelled"), or null: a move or a cancellation must reach whoever was told
     * something that no longer holds, whatever state the change went through meanwhile (e.g.
     * waiting for approval again).
     */
    async lastToldClients(em: EntityManager, change: ChangeRequest): Promise<ClientNoticeKind | null> {
      const [latest] = await em.find(
        NotificationSchema,
        { kind: { $in: STANDING_NOTICES.map((kind) => `change.${kind}`) }, dedupKey: { $like: `change:${formatChangeId(change.number)}:%` } },
        { orderBy: { id: 'desc' }, limit: 1, fields: ['kind'] },
      );
      return latest ? (latest.kind.slice('change.'.length) as ClientNoticeKind) : null;
    },

    /**
     * An approval request to staff approvers (CHG-06, CHG-08, CHG-09) in its own template:
     * what is asked of whom and why, the window (and the approved one it left, when asked
     * again), the risk, and the link to the change.
     */
    async approvalRequestToStaff(em: EntityManager, config: IncidentdConfig, change: ChangeRequest, input: { approvalId: number; recipients: string[]; group: string; reason: string; previousWindow?: Window }): Promise<void> {
      const id = formatChangeId(change.number);
      const clients = change.clientIds.map((clientId) => config.clients.find((candidate) => candidate.id === clientId));
      const context = {
        group: input.group,
        reason: input.reason,
        // Windows are read in the (first) client's time zone, where its maintenance windows are defined.
        timezone: clients[0]?.timezone ?? 'UTC',
        change: {
          id,
          title: change.title,
          description: change.description,
          type: change.type,
          standardChange: change.standardChangeId,
          risk: change.riskLevel,
          riskScore: change.riskScore,
          window: change.windowStart && change.windowEnd ? { start: change.windowStart.toISOString(), end: change.windowEnd.toISOString() } : null,
          clients: change.clientIds.map((clientId, i) => clients[i]?.name ?? clientId),
          cis: change.ciIds,
          expectedImpact: change.expectedImpact,
          requester: change.requesterEmail,
        },
        previousWindow: input.previousWindow ? { start: input.previousWindow.start.toISOString(), end: input.previousWindow.end.toISOString() } : null,
        link: `${deps.publicUrl()}/api/v1/changes/${id}`,
      };
      // Staff mail carries the MSP's own name, as the staff pages do (email-channel.ts).
      const email = templates.render('change-approval-staff', context, { name: config.smtp ? senderName(config.smtp.from) : 'incidentd' });
      await outbox.enqueue(em, {
        kind: 'change.approval_request',
        incidentId: null,
        recipients: input.recipients,
        subject: email.subject,
        body: email.text,
        html: email.html,
        eventKey: `change:${id}:approval:${input.approvalId}`,
      });
    },

    /** A message to MSP staff (decisions, escalations, overruns), sent in the staff-page template. */
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

    /** An approval request to one client approver, branded, with their own signed link (CHG-06, COM-01). */
    async approvalLink(em: EntityManager, config: IncidentdConfig, change: ChangeRequest, input: { approvalId: number; clientId: string; email: string; link: string; expiresAt: Date; previousWindow?: Window }): Promise<void> {
      const client = config.clients.find((candidate) => candidate.id === input.clientId);
      if (!client) return;
      // The client view only: the risk class is the MSP's own scrutiny and approver routing (CHG-04, CHG-06), not part of what the client is told.
      const context = {
        client: { name: client.name },
        timezone: client.timezone,
        change: clientView(config, change, client.id),
        previousWindow: input.previousWindow ? { start: input.previousWindow.start.toISOString(), end: input.previousWindow.end.toISOString() } : null,
        link: input.link,
        expiresAt: input.expiresAt.toISOString(),
      };
      const email = templates.render('change-approval-request', context, brandOf(client));
      await outbox.enqueue(em, {
        kind: 'change.approval_request',
        incidentId: null,
        clientId: client.id,
        recipients: [input.email],
        subject: email.subject,
        body: email.text,
        html: email.html,
        eventKey: `change:${formatChangeId(change.number)}:approval:${input.approvalId}`,
        // The signed one-time link answers as the client: never shown to staff or copied to webhooks.
        personal: true,
      });
    },
  };
}
export type ChangeNotices = ReturnType<typeof createChangeNotices>;
