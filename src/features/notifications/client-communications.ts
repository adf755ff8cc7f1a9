import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { communicationsFor, type CommunicationsConfig } from '../../config/communications-config-schema';
import { parseDuration, type ClientConfig } from '../../config/config-schema';
import type { NotifyTarget } from '../../config/escalation-config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { LinkSigner } from '../../platform/security/signed-links';
import { SYSTEM_ACTOR } from '../audit/audit-service';
import { IncidentEventSchema, IncidentSchema, type Incident } from '../incidents/incident-entities';
import { formatIncidentId, isOpen, publicStatusOf, type IncidentState, type PublicStatus } from '../incidents/incident-rules';
import type { IncidentObserver, PublicUpdate } from '../incidents/incident-service';
import { addTimelineEvent } from '../incidents/incident-timeline';
import type { TimerEngine } from '../timers/timer-engine';
import { IncidentCommunicationSchema, RestorationFeedbackSchema, type IncidentCommunication } from './communication-entities';
import type { Branding, EmailTemplates } from './email-templates';
import { NotificationSchema } from './notification-entities';
import type { Outbox } from './outbox';

export const RESTORATION_LINK_PURPOSE = 'restoration';
const CADENCE_TIMERS = ['comms.update-reminder', 'comms.update-due'];
const ALL_TIMERS = ['comms.initial-notice', ...CADENCE_TIMERS];

const SEVERITY_LABELS: Record<number, { label: string; colour: string }> = {
  1: { label: 'Critical', colour: '#bf2600' },
  2: { label: 'High', colour: '#ff8b00' },
  3: { label: 'Medium', colour: '#b37400' },
  4: { label: 'Low', colour: '#6b778c' },
};
const STATUS_LABELS: Record<PublicStatus, string> = { investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved' };

/** People who resolve escalation targets to e-mail addresses (the escalation service does). */
export type TargetResolver = (em: EntityManager, incident: Incident, targets: NotifyTarget[], at: Date) => Promise<{ emails: string[] }>;

interface Person {
  name: string;
  email: string;
}

/** What the client is told: staff's public words and the status they give. */
type Words = Pick<PublicUpdate, 'message' | 'status'>;
type SeverityKey = 'sev1' | 'sev2' | 'sev3' | 'sev4';
const severityKey = (incident: Incident) => `sev${incident.severity}` as SeverityKey;

/**
 * Client communications during Sev1/Sev2 incidents (INC-09, INC-10, MSP-INC 3.4):
 *
 * - **First notice** to the client's `notify` contacts and account manager within the
 *   notification target. It waits up to `initialNoticeHold` for staff's own first words
 *   (a public update sends it at once); then it goes with a standard text.
 * - **Update cadence**: after each e-mailed update the next is due `updateEvery` later;
 *   the people in `remind` are reminded `remindBefore` it is due and told when it is
 *   overdue; with `autoSendUpdates` the latest public update goes again when due.
 * - **Restoration**: on resolve, each notify contact gets a "service restored" e-mail with
 *   a signed, expiring link to confirm (closes the incident) or report it is not fixed
 *   (re-opens it), with a satisfaction rating (restoration-feedback.ts).
 *
 * Everything is decided in the incident's transaction: outbox rows and durable timers
 * commit with the change that caused them. Only public words reach the client: the
 * service-based title and public updates, never internal notes, alert labels or hosts.
 * Security incidents are left to the security team (INC-14).
 */
export function createClientCommunications(deps: {
  clock: Clock;
  configStore: ConfigStore;
  timers: TimerEngine;
  outbox: Outbox;
  templates: EmailTemplates;
  links: LinkSigner;
  resolveTargets: TargetResolver;
}) {
  const { configStore, timers, outbox, templates } = deps;

  const clientOf = (incident: Incident): ClientConfig | undefined => configStore.current.clients.find((client) => client.id === incident.clientId);
  const policyOf = (client: ClientConfig): CommunicationsConfig => communicationsFor(configStore.current.communications, client);
  const durationMs = (text: string | undefined): number | undefined => (text === undefined ? undefined : parseDuration(text));

  /** The client and its policy when this incident is communicated to the client at all. */
  function scope(incident: Incident): { client: ClientConfig; policy: CommunicationsConfig } | null {
    const client = clientOf(incident);
    // Alerts expected during a change the client was told about are not news until its window ends.
    if (!client || incident.security || incident.state === 'cancelled' || incident.expectedDuringChange) return null;
    const policy = policyOf(client);
    return policy.severities.includes(incident.severity as 1 | 2 | 3 | 4) ? { client, policy } : null;
  }

  function notifyContacts(client: ClientConfig): Person[] {
    return client.contacts.filter((contact) => contact.roles.includes('notify')).map((contact) => ({ name: contact.name, email: contact.email }));
  }

  function brandOf(client: ClientConfig): Branding {
    return { name: client.branding?.name ?? client.name, logoUrl: client.branding?.logoUrl, signature: client.branding?.signature };
  }

  function updateInterval(policy: CommunicationsConfig, incident: Incident): number | undefined {
    return durationMs(policy.updateEvery[severityKey(incident)]);
  }

  /** When the first notice is due: the hold, never beyond the notification target, from when the incident came into scope. */
  function firstNoticeDue(policy: CommunicationsConfig, incident: Incident, from: Date): { dueAt: Date; target: number | undefined } {
    const target = durationMs(policy.notifyWithin[severityKey(incident)]);
    const hold = durationMs(policy.initialNoticeHold) ?? 0;
    return { dueAt: new Date(from.getTime() + Math.min(hold, target ?? hold)), target };
  }

  /** What every client e-mail about the incident says about it: public words only. */
  function clientContext(incident: Incident, client: ClientConfig) {
    const services = incident.serviceIds.map((id) => configStore.current.services.find((service) => service.id === id)?.name).filter((name): name is string => !!name);
    return {
      client: { name: client.name },
      timezone: client.timezone,
      severity: { level: incident.severity, ...SEVERITY_LABELS[incident.severity]! },
      incident: {
        id: formatIncidentId(incident.number),
        title: services.length ? `${services.join(', ')}: service disruption` : 'Service disruption',
        services,
        startedAt: incident.reportedAt.toISOString(),
        resolvedAt: incident.resolvedAt?.toISOString() ?? null,
      },
      statusPageUrl: client.statusPage.public ? `${configStore.current.server.publicUrl}/status/${client.id}` : null,
    };
  }

  function presentUpdate(update: Words, at: Date) {
    return { statusLabel: STATUS_LABELS[update.status], message: update.message, at: at.toISOString() };
  }

  async function latestPublicUpdate(em: EntityManager, incident: Incident): Promise<{ update: Words; at: Date } | null> {
    const event = await em.findOne(IncidentEventSchema, { incident, visibility: 'public' }, { orderBy: { id: 'desc' } });
    if (!event) return null;
    const status = (event.data?.status as PublicStatus | undefined) ?? publicStatusOf(incident.state as IncidentState);
    return { update: { message: event.message, status }, at: event.at };
  }

  function standardFirstWords(incident: Incident): Words {
    return { message: 'We are aware of a problem affecting your services and our engineers are investigating. We will keep you updated.', status: publicStatusOf(incident.state as IncidentState) };
  }

  async function enqueueForClient(em: EntityManager, incident: Incident, client: ClientConfig, template: string, context: Record<string, unknown>, kind: string, eventKey: string): Promise<Person[]> {
    const people = [...notifyContacts(client), { name: 'Account manager', email: client.accountManager }];
    const email = templates.render(template, context, brandOf(client));
    await outbox.enqueue(em, { kind, incidentId: incident.id, clientId: client.id, recipients: people.map((person) => person.email), eventKey, subject: email.subject, body: email.text, html: email.html });
    return people;
  }

  function record(em: EntityManager, incident: Incident, message: string, now: Date, data?: Record<string, unknown>): void {
    addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'communication', message, data }, now);
  }

  /** (Re)starts the cadence: the next update is due `updateEvery` after `from`. */
  function scheduleCadence(em: EntityManager, incident: Incident, comm: IncidentCommunication, policy: CommunicationsConfig, from: Date, now: Date): void {
    const every = updateInterval(policy, incident);
    if (!every) {
      comm.nextUpdateDueAt = null;
      return;
    }
    const dueAt = new Date(Math.max(from.getTime() + every, now.getTime()));
    comm.nextUpdateDueAt = dueAt;
    const remindAt = dueAt.getTime() - (durationMs(policy.remindBefore) ?? 0);
    if (remindAt > now.getTime()) timers.schedule(em, { kind: 'comms.update-reminder', incidentId: incident.id, dueAt: new Date(remindAt), payload: { dueAt: dueAt.toISOString() } });
    timers.schedule(em, { kind: 'comms.update-due', incidentId: incident.id, dueAt, payload: { dueAt: dueAt.toISOString(), overdueRound: 0 } });
  }

  async function stopCadence(em: EntityManager, incident: Incident, comm: IncidentCommunication | null, kinds = CADENCE_TIMERS): Promise<void> {
    await timers.cancel(em, incident.id, kinds);
    if (comm) comm.nextUpdateDueAt = null;
  }

  async function communicationOf(em: EntityManager, incident: Incident): Promise<IncidentCommunication | null> {
    return em.findOne(IncidentCommunicationSchema, { incident });
  }

  /**
   * An incident came into scope: the first notice is due within the client's notification
   * target, counted from when it first came into scope (a severity raised later does not
   * postpone it).
   */
  async function start(em: EntityManager, incident: Incident, now: Date): Promise<void> {
    const inScope = scope(incident);
    if (!inScope) return;
    let comm = await communicationOf(em, incident);
    if (comm?.initialNoticeAt) return;
    comm ??= em.create(IncidentCommunicationSchema, { incident, clientId: inScope.client.id, startedAt: now, updatesSent: 0 });
    const { dueAt, target } = firstNoticeDue(inScope.policy, incident, comm.startedAt);
    const sendAt = new Date(Math.max(dueAt.getTime(), now.getTime()));
    await timers.cancel(em, incident.id, ['comms.initial-notice']);
    timers.schedule(em, { kind: 'comms.initial-notice', incidentId: incident.id, dueAt: sendAt, payload: {} });
    record(em, incident, `client notice for ${inScope.client.name} goes out by ${sendAt.toISOString()}${target !== undefined ? ` (notification target ${inScope.policy.notifyWithin[severityKey(incident)]})` : ''}, sooner if a public update is posted`, now);
  }

  async function sendFirstNotice(em: EntityManager, incident: Incident, comm: IncidentCommunication, client: ClientConfig, policy: CommunicationsConfig, update: Words, updateAt: Date, now: Date): Promise<void> {
    const every = updateInterval(policy, incident);
    const nextUpdateBy = every ? new Date(now.getTime() + every) : null;
    const people = await enqueueForClient(em, incident, client, 'incident-opened', { ...clientContext(incident, client), update: presentUpdate(update, updateAt), nextUpdateBy: nextUpdateBy?.toISOString() ?? null }, 'comms.initial', `comms-initial:${incident.id}`);
    comm.initialNoticeAt = now;
    comm.lastUpdateAt = now;
    comm.updatesSent = 1;
    await timers.cancel(em, incident.id, ALL_TIMERS);
    scheduleCadence(em, incident, comm, policy, now, now);
    const target = durationMs(policy.notifyWithin[severityKey(incident)]);
    const took = now.getTime() - comm.startedAt.getTime();
    record(em, incident, `client notified (first notice) to ${people.map((person) => person.email).join(', ')}${target !== undefined ? `, ${Math.round(took / 60_000)} min after logging (target ${Math.round(target / 60_000)} min${took > target ? ', MISSED' : ''})` : ''}`, now, { notice: 'initial', recipients: people.map((person) => person.email) });
  }

  async function sendUpdate(em: EntityManager, incident: Incident, comm: IncidentCommunication, client: ClientConfig, policy: CommunicationsConfig, update: Words, updateAt: Date, eventKey: string, repeated: boolean, now: Date): Promise<void> {
    const every = updateInterval(policy, incident);
    const nextUpdateBy = every ? new Date(now.getTime() + every) : null;
    const number = comm.updatesSent + 1;
    const people = await enqueueForClient(em, incident, client, 'incident-update', { ...clientContext(incident, client), update: presentUpdate(update, updateAt), updateNumber: number, repeated, nextUpdateBy: nextUpdateBy?.toISOString() ?? null }, 'comms.update', eventKey);
    comm.lastUpdateAt = now;
    comm.updatesSent = number;
    await stopCadence(em, incident, comm);
    scheduleCadence(em, incident, comm, policy, now, now);
    record(em, incident, `client update ${number}${repeated ? ' (latest public update repeated automatically)' : ''} e-mailed to ${people.map((person) => person.email).join(', ')}`, now, { notice: 'update', number, repeated });
  }

  async function remind(em: EntityManager, incident: Incident, comm: IncidentCommunication, client: ClientConfig, policy: CommunicationsConfig, dueAt: Date, overdue: boolean, eventKey: string, now: Date): Promise<void> {
    const { emails } = await deps.resolveTargets(em, incident, policy.remind, now);
    const email = templates.render(
      'update-reminder',
      {
        client: { name: client.name },
        timezone: 'UTC',
        severity: { level: incident.severity },
        incident: { id: formatIncidentId(incident.number), title: incident.title, state: incident.state },
        dueAt: dueAt.toISOString(),
        overdue,
        lastUpdateAt: comm.lastUpdateAt?.toISOString() ?? null,
        autoSend: policy.autoSendUpdates,
        incidentUrl: `${configStore.current.server.publicUrl}/api/v1/incidents/${formatIncidentId(incident.number)}`,
      },
      brandOf(client),
    );
    await outbox.enqueue(em, { kind: 'comms.reminder', incidentId: incident.id, recipients: emails, eventKey, subject: email.subject, body: email.text, html: email.html });
    record(em, incident, `${overdue ? 'client update overdue (due' : 'reminder: client update due'} ${dueAt.toISOString()}${overdue ? ')' : ''}; told ${emails.join(', ') || 'nobody (no one matches communications.remind)'}`, now, { reminder: overdue ? 'overdue' : 'due', dueAt: dueAt.toISOString() });
  }

  /** The client's contacts confirm restoration from per-contact signed links (AM gets a copy without links). */
  async function sendRestoration(em: EntityManager, incident: Incident, comm: IncidentCommunication, client: ClientConfig, policy: CommunicationsConfig, now: Date): Promise<void> {
    const resolvedAt = incident.resolvedAt ?? now;
    const latest = await latestPublicUpdate(em, incident);
    const fresh = latest && latest.update.status === 'resolved' && latest.at >= (comm.lastUpdateAt ?? comm.startedAt) ? latest : null;
    const update = fresh?.update ?? { message: 'The service has been restored.', status: 'resolved' as const };
    const validFor = durationMs(policy.restorationLinkValidFor) ?? 7 * 86_400_000;
    const expiresAt = new Date(now.getTime() + validFor);
    const closesAt = new Date(resolvedAt.getTime() + (durationMs(configStore.current.incidents.validationWindow) ?? 3 * 86_400_000));
    const base = { ...clientContext(incident, client), update: presentUpdate(update, fresh?.at ?? now), closesAt: closesAt.toISOString() };
    const brand = brandOf(client);
    const contacts = notifyContacts(client);
    for (const contact of contacts) {
      const feedback = em.create(RestorationFeedbackSchema, { incident, clientId: client.id, contactEmail: contact.email, contactName: contact.name, resolvedAt, createdAt: now, expiresAt });
      await em.flush();
      const token = deps.links.sign(RESTORATION_LINK_PURPOSE, feedback.id, expiresAt);
      const url = `${configStore.current.server.publicUrl}/respond/restoration/${token}`;
      const email = templates.render('incident-restored', { ...base, contact, links: { restored: `${url}?answer=restored`, notFixed: `${url}?answer=not_fixed`, expiresAt: expiresAt.toISOString() } }, brand);
      // The link acts for this contact: personal (no webhook copy, hidden in listings).
      await outbox.enqueue(em, { kind: 'comms.restored', incidentId: incident.id, clientId: client.id, recipients: [contact.email], eventKey: `comms-restored:${feedback.id}`, subject: email.subject, body: email.text, html: email.html, personal: true });
    }
    const copy = templates.render('incident-restored', { ...base, contact: { name: 'account manager' }, links: null }, brand);
    await outbox.enqueue(em, { kind: 'comms.restored', incidentId: incident.id, clientId: client.id, recipients: [client.accountManager], eventKey: `comms-restored-copy:${incident.id}:${resolvedAt.getTime()}`, subject: copy.subject, body: copy.text, html: copy.html });
    comm.restorationNoticeAt = now;
    record(
      em,
      incident,
      contacts.length
        ? `restoration e-mailed to ${contacts.map((contact) => contact.email).join(', ')} with links to confirm (valid until ${expiresAt.toISOString()}); copy to ${client.accountManager}`
        : `restoration e-mailed to ${client.accountManager} only: ${client.name} has no notify contacts to confirm it`,
      now,
      { notice: 'restored' },
    );
  }

  /** Loads what a timer handler needs; null when the timer no longer applies. */
  async function loadForTimer(em: EntityManager, incidentId: number | undefined) {
    const incident = incidentId ? await em.findOne(IncidentSchema, { id: incidentId }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
    if (!incident || !isOpen(incident.state as IncidentState)) return null;
    const inScope = scope(incident);
    const comm = await communicationOf(em, incident);
    if (!inScope || !comm) return null;
    return { incident, comm, ...inScope };
  }

  timers.register('comms.initial-notice', async ({ em, timer, now }) => {
    const loaded = await loadForTimer(em, timer.incident?.id);
    if (!loaded || loaded.comm.initialNoticeAt) return;
    const latest = await latestPublicUpdate(em, loaded.incident);
    await sendFirstNotice(em, loaded.incident, loaded.comm, loaded.client, loaded.policy, latest?.update ?? standardFirstWords(loaded.incident), latest?.at ?? now, now);
  });

  timers.register('comms.update-reminder', async ({ em, timer, now }) => {
    const loaded = await loadForTimer(em, timer.incident?.id);
    const dueAt = String(timer.payload.dueAt);
    if (!loaded || loaded.comm.nextUpdateDueAt?.toISOString() !== dueAt) return;
    await remind(em, loaded.incident, loaded.comm, loaded.client, loaded.policy, new Date(dueAt), false, `comms-remind:${loaded.incident.id}:${dueAt}`, now);
  });

  timers.register('comms.update-due', async ({ em, timer, now }) => {
    const loaded = await loadForTimer(em, timer.incident?.id);
    const dueAt = String(timer.payload.dueAt);
    if (!loaded || loaded.comm.nextUpdateDueAt?.toISOString() !== dueAt) return;
    const { incident, comm, client, policy } = loaded;
    if (policy.autoSendUpdates) {
      const latest = await latestPublicUpdate(em, incident);
      await sendUpdate(em, incident, comm, client, policy, latest?.update ?? standardFirstWords(incident), latest?.at ?? comm.startedAt, `comms-auto:${incident.id}:${dueAt}`, true, now);
      return;
    }
    // Overdue: say so now and again every interval until someone posts an update.
    const round = Number(timer.payload.overdueRound ?? 0);
    await remind(em, incident, comm, client, policy, new Date(dueAt), true, `comms-overdue:${incident.id}:${dueAt}:${round}`, now);
    const every = updateInterval(policy, incident);
    if (every) timers.schedule(em, { kind: 'comms.update-due', incidentId: incident.id, dueAt: new Date(now.getTime() + every), payload: { dueAt, overdueRound: round + 1 } });
  });

  const observer: IncidentObserver = {
    async created(em, incident, now) {
      await start(em, incident, now);
    },

    async releasedFromChange(em, incident, now) {
      await start(em, incident, now);
    },

    async severityChanged(em, incident, _from, now) {
      if (!isOpen(incident.state as IncidentState)) return;
      const comm = await communicationOf(em, incident);
      const inScope = scope(incident);
      if (!inScope) {
        if (comm && (comm.nextUpdateDueAt || !comm.initialNoticeAt)) {
          await stopCadence(em, incident, comm, ALL_TIMERS);
          record(em, incident, `client communication cadence stopped: severity ${incident.severity} is not communicated`, now);
        }
        return;
      }
      if (!comm?.initialNoticeAt) return start(em, incident, now);
      // Already notified: the new severity's cadence counts from the last update.
      await stopCadence(em, incident, comm);
      scheduleCadence(em, incident, comm, inScope.policy, comm.lastUpdateAt ?? now, now);
    },

    async publicUpdatePosted(em, incident, update, now) {
      const inScope = scope(incident);
      if (!inScope || !isOpen(incident.state as IncidentState)) return;
      const comm = (await communicationOf(em, incident)) ?? em.create(IncidentCommunicationSchema, { incident, clientId: inScope.client.id, startedAt: now, updatesSent: 0 });
      if (!comm.initialNoticeAt) return sendFirstNotice(em, incident, comm, inScope.client, inScope.policy, update, now, now);
      // The incident's version identifies this change: one e-mail per posted update.
      await sendUpdate(em, incident, comm, inScope.client, inScope.policy, update, now, `comms-update:${update.eventId}`, false, now);
    },

    async stateChanged(em, incident, from, to, now) {
      const comm = await communicationOf(em, incident);
      if (!comm) return;
      const client = clientOf(incident);
      if (to === 'resolved') {
        await stopCadence(em, incident, comm, ALL_TIMERS);
        // Resolved before the first notice went out, the client still hears of it: the
        // restoration e-mail says when it started and when it was restored.
        if (client && !incident.security) await sendRestoration(em, incident, comm, client, policyOf(client), now);
      } else if (from === 'resolved' && to === 'investigating') {
        const inScope = scope(incident);
        if (!inScope) return;
        if (!comm.initialNoticeAt) return start(em, incident, now);
        await sendUpdate(em, incident, comm, inScope.client, inScope.policy, { message: 'The problem has returned. We have re-opened the incident and are investigating again.', status: 'investigating' }, now, `comms-reopened:${incident.id}:${now.getTime()}`, false, now);
      } else if (!isOpen(to)) {
        await stopCadence(em, incident, comm, ALL_TIMERS);
        if (to === 'cancelled' && !comm.initialNoticeAt) record(em, incident, 'no client notice: the incident was cancelled before it went out', now);
      }
    },
  };

  return {
    observer,
    /** A client says a closed incident is not fixed: the people in `remind` follow it up. */
    async clientReportsNotFixed(em: EntityManager, incident: Incident, contact: Person, comment: string | null, now: Date): Promise<string[]> {
      const client = clientOf(incident);
      const targets = client ? policyOf(client).remind : configStore.current.communications.remind;
      const { emails } = await deps.resolveTargets(em, incident, targets, now);
      const id = formatIncidentId(incident.number);
      await outbox.enqueue(em, {
        kind: 'comms.client_not_fixed',
        incidentId: incident.id,
        recipients: emails,
        eventKey: `comms-not-fixed:${incident.id}:${contact.email}:${now.getTime()}`,
        subject: `${id} is ${incident.state} but ${contact.name} (${incident.clientId}) reports it is not fixed`,
        body: `${contact.name} <${contact.email}> answered the restoration e-mail of ${id} after the incident was ${incident.state}: not fixed.${comment ? `\n\nComment: ${comment}` : ''}\n\nContact them and log a new incident if the problem is back.\n${configStore.current.server.publicUrl}/api/v1/incidents/${id}`,
      });
      return emails;
    },
    /** For the incident view: where the client communication stands, and what was sent to whom. */
    async present(em: EntityManager, incident: Incident) {
      const comm = await communicationOf(em, incident);
      if (!comm) return null;
      const sent = await em.find(NotificationSchema, { incident, kind: { $like: 'comms.%' }, channel: 'email' }, { orderBy: { id: 'asc' }, limit: 200 });
      return {
        messages: sent.map((row) => ({ kind: row.kind, recipient: row.recipient, subject: row.subject, status: row.status, createdAt: row.createdAt.toISOString(), sentAt: row.sentAt?.toISOString() ?? null })),
        initialNoticeAt: comm.initialNoticeAt?.toISOString() ?? null,
        lastUpdateAt: comm.lastUpdateAt?.toISOString() ?? null,
        updatesSent: comm.updatesSent,
        nextUpdateDueAt: comm.nextUpdateDueAt?.toISOString() ?? null,
        restorationNoticeAt: comm.restorationNoticeAt?.toISOString() ?? null,
      };
    },
  };
}
export type ClientCommunications = ReturnType<typeof createClientCommunications>;
