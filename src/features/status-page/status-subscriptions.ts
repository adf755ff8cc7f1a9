import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { DateTime } from 'luxon';
import type { ClientConfig } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { EventBus } from '../../platform/event-bus';
import type { Logger } from '../../platform/logger';
import type { LinkSigner } from '../../platform/security/signed-links';
import { IncidentEventSchema, IncidentSchema } from '../incidents/incident-entities';
import { NotificationSchema } from '../notifications/notification-entities';
import { RoleGrantSchema } from '../users/user-entities';
import { presentIncidentForClient } from '../incidents/incident-presenter';
import { formatIncidentId, publicStatusOf, type IncidentState } from '../incidents/incident-rules';
import type { Outbox } from '../notifications/outbox';
import { publicServices, type PublicMaintenance } from './status-model';
import type { StatusPageService, StatusSnapshot } from './status-page-service';
import { StatusSubscriberSchema, type StatusSubscriber } from './status-page-entities';
import { isPublicStatus, PUBLIC_STATUS_LABELS } from './status-rules';

const CONFIRM = 'status.subscription.confirm';
const UNSUBSCRIBE = 'status.subscription.unsubscribe';
const CONFIRM_VALID_MS = 7 * 86_400_000;
// Unsubscribe links in old e-mails must keep working.
const UNSUBSCRIBE_VALID_MS = 400 * 86_400_000;
/**
 * Subscription mails (confirmation or "already subscribed") one address receives per day,
 * across every client's page: the form is open to anyone, so it must not be usable to
 * bury someone's mailbox, however many pages and sending addresses are used.
 */
export const SUBSCRIPTION_MAILS_PER_ADDRESS_PER_DAY = 5;
const SUBSCRIPTION_MAIL_KINDS = ['status.subscription_confirm', 'status.subscription_exists'];

export type StatusSubscriptions = ReturnType<typeof createStatusSubscriptions>;

/**
 * E-mail subscriptions to a client's status page: double opt-in (nothing but the
 * confirmation mail goes out before the link in it is used), a choice of components, and a
 * one-click unsubscribe link (plus List-Unsubscribe headers, RFC 8058) in every mail.
 * Mail is written to the notification outbox; its sender delivers it.
 */
export function createStatusSubscriptions(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; outbox: Outbox; signer: LinkSigner; bus: EventBus; logger: Logger; statusPages: StatusPageService }) {
  const { orm, clock, configStore, outbox, signer } = deps;

  const pageUrl = (clientId: string) => `${configStore.current.server.publicUrl.replace(/\/$/, '')}/status/${clientId}`;
  const link = (subscriber: StatusSubscriber, path: string, purpose: string, validMs: number) =>
    `${pageUrl(subscriber.clientId)}/${path}?token=${signer.sign(purpose, String(subscriber.id), new Date(clock.now().getTime() + validMs))}`;
  const unsubscribeLink = (subscriber: StatusSubscriber) => link(subscriber, 'unsubscribe', UNSUBSCRIBE, UNSUBSCRIBE_VALID_MS);
  const unsubscribeHeaders = (subscriber: StatusSubscriber) => ({ 'List-Unsubscribe': `<${unsubscribeLink(subscriber)}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
  const footer = (subscriber: StatusSubscriber) => `\n\n--\nYou receive this because you subscribed to ${pageUrl(subscriber.clientId)}.\nUnsubscribe with one click: ${unsubscribeLink(subscriber)}`;

  async function subscriberFor(clientId: string, token: string, purpose: string): Promise<StatusSubscriber | null> {
    const check = signer.verify(purpose, token);
    if (!check.ok) return null;
    return orm.em.fork().findOne(StatusSubscriberSchema, { id: Number(check.subject), clientId });
  }

  /** The e-mail addresses (lower case) of the client's active client_contact users. */
  async function contactAddresses(em: EntityManager, clientId: string): Promise<Set<string>> {
    const grants = await em.find(RoleGrantSchema, { role: 'client_contact', clientId, revokedAt: null, user: { disabledAt: null } }, { populate: ['user'] });
    return new Set(grants.map((grant) => grant.user.email.toLowerCase()));
  }

  /** Public updates of an incident go to the confirmed subscribers of the components it affects. */
  async function notifyPublicUpdates(incidentId: number, eventIds: string[]): Promise<void> {
    await orm.em.fork().transactional(async (em) => {
      const incident = await em.findOne(IncidentSchema, { id: incidentId });
      if (!incident?.clientId || incident.security || incident.state === 'cancelled') return;
      const client = configStore.current.clients.find((candidate) => candidate.id === incident.clientId);
      if (!client?.statusPage.subscriptions) return;
      const updates = await em.find(IncidentEventSchema, { id: { $in: eventIds }, incident, visibility: 'public' }, { orderBy: { id: 'asc' } });
      if (!updates.length) return;
      const services = publicServices(configStore.current, client.id);
      const title = presentIncidentForClient(incident, [], (id) => services.find((service) => service.id === id)?.name).title;
      const subscribers = await em.find(StatusSubscriberSchema, { clientId: client.id, confirmedAt: { $ne: null }, unsubscribedAt: null });
      // A private page's updates are for the client's own people: only addresses that are
      // active client contacts of this client now (a page made private, a contact disabled
      // or moved: their old subscriptions stop receiving mail).
      const allowed = client.statusPage.public ? null : await contactAddresses(em, client.id);
      const interested = subscribers.filter((s) => (!allowed || allowed.has(s.email)) && (s.componentIds.length === 0 || s.componentIds.some((id) => incident.serviceIds.includes(id))));
      const url = `${pageUrl(client.id)}/incidents/${formatIncidentId(incident.number)}`;
      for (const update of updates) {
        const status = isPublicStatus(update.data?.status) ? update.data.status : publicStatusOf(incident.state as IncidentState);
        const label = PUBLIC_STATUS_LABELS[status];
        for (const subscriber of interested) {
          await outbox.enqueue(em, {
            kind: 'status.incident_update',
            incidentId: incident.id,
            recipients: [subscriber.email],
            subject: `[${client.statusPage.title ?? client.name}] ${label}: ${title}`,
            body: `${label}: ${update.message}\n\nDetails and history: ${url}${footer(subscriber)}`,
            headers: unsubscribeHeaders(subscriber),
            eventKey: `status.incident_update:${update.id}`,
          });
        }
      }
    });
  }

  /**
   * Maintenance news for subscribers of the affected components (COM-02): when it is
   * announced, when it is completed, and when it is called off before it started. One mail per
   * maintenance, event and window (a replay or a restart sends nothing twice).
   */
  async function notifyMaintenance(snapshot: StatusSnapshot, previous: StatusSnapshot | null): Promise<void> {
    const client = configStore.current.clients.find((candidate) => candidate.id === snapshot.clientId);
    if (!client?.statusPage.subscriptions) return;
    const before = new Map((previous?.model.maintenances ?? []).map((maintenance) => [maintenance.id, maintenance]));
    const now = new Map(snapshot.model.maintenances.map((maintenance) => [maintenance.id, maintenance]));
    const news: { maintenance: PublicMaintenance; what: 'scheduled' | 'completed' | 'called off' }[] = [];
    for (const maintenance of now.values()) {
      const was = before.get(maintenance.id);
      if (maintenance.status !== 'completed' && (!was || was.scheduledFor.getTime() !== maintenance.scheduledFor.getTime())) news.push({ maintenance, what: 'scheduled' });
      if (maintenance.status === 'completed' && was && was.status !== 'completed') news.push({ maintenance, what: 'completed' });
    }
    for (const was of before.values()) if (!now.has(was.id) && was.status === 'scheduled') news.push({ maintenance: was, what: 'called off' });
    if (news.length === 0) return;
    await orm.em.fork().transactional(async (em) => {
      const subscribers = await em.find(StatusSubscriberSchema, { clientId: client.id, confirmedAt: { $ne: null }, unsubscribedAt: null });
      const allowed = client.statusPage.public ? null : await contactAddresses(em, client.id);
      const zone = client.timezone;
      const local = (at: Date) => DateTime.fromJSDate(at, { zone }).toFormat('ccc d LLL yyyy HH:mm ZZZZ');
      for (const { maintenance, what } of news) {
        const interested = subscribers.filter((s) => (!allowed || allowed.has(s.email)) && (s.componentIds.length === 0 || s.componentIds.some((id) => maintenance.componentIds.includes(id))));
        const headline = { scheduled: 'Scheduled', completed: 'Completed', 'called off': 'Called off' }[what];
        for (const subscriber of interested) {
          await outbox.enqueue(em, {
            kind: 'status.maintenance',
            incidentId: null,
            recipients: [subscriber.email],
            subject: `[${client.statusPage.title ?? client.name}] ${headline}: ${maintenance.name}`,
            body: `${headline}: ${maintenance.name}\n${local(maintenance.scheduledFor)} - ${local(maintenance.scheduledUntil)}\n${maintenance.description ? `\n${maintenance.description}\n` : ''}\nDetails: ${pageUrl(client.id)}${footer(subscriber)}`,
            headers: unsubscribeHeaders(subscriber),
            eventKey: `status.maintenance:${client.id}:${maintenance.id}:${what}:${maintenance.scheduledFor.toISOString()}`,
          });
        }
      }
    });
  }

  // Mail written after the incident's commit; tracked so shutdown (and tests) can wait for it.
  const inFlight = new Set<Promise<void>>();
  deps.bus.on('incident.changed', (event) => {
    if (!event.clientId || event.eventIds.length === 0) return;
    const work = notifyPublicUpdates(event.incidentId, event.eventIds)
      .catch((error) => deps.logger.warn({ err: error, incidentId: event.incidentId }, 'could not write status subscriber e-mails'))
      .finally(() => inFlight.delete(work));
    inFlight.add(work);
  });

  deps.statusPages.onUpdate((snapshot, previous) => {
    const work = notifyMaintenance(snapshot, previous)
      .catch((error) => deps.logger.warn({ err: error, clientId: snapshot.clientId }, 'could not write maintenance e-mails to subscribers'))
      .finally(() => inFlight.delete(work));
    inFlight.add(work);
  });

  return {
    /** Resolves once the subscriber mail of every event published so far is written. */
    async idle(): Promise<void> {
      while (inFlight.size) await Promise.all(inFlight);
    },

    /**
     * Records the wish and mails a confirmation link. The answer is the same whether or not
     * the address was subscribed already, so the form cannot be used to probe addresses.
     */
    async subscribe(client: ClientConfig, email: string, componentIds: string[]): Promise<void> {
      const known = new Set(publicServices(configStore.current, client.id).map((service) => service.id));
      const chosen = [...new Set(componentIds)].filter((id) => known.has(id));
      const address = email.trim().toLowerCase();
      const now = clock.now();
      await orm.em.fork().transactional(async (em) => {
        let subscriber = await em.findOne(StatusSubscriberSchema, { clientId: client.id, email: address });
        const active = subscriber?.confirmedAt && !subscriber.unsubscribedAt;
        if (!subscriber) subscriber = em.create(StatusSubscriberSchema, { clientId: client.id, email: address, componentIds: chosen, createdAt: now });
        else if (!active) Object.assign(subscriber, { componentIds: chosen, confirmedAt: null, unsubscribedAt: null });
        await em.flush();
        const since = new Date(now.getTime() - 86_400_000);
        if ((await em.count(NotificationSchema, { recipient: address, kind: { $in: SUBSCRIPTION_MAIL_KINDS }, createdAt: { $gte: since } })) >= SUBSCRIPTION_MAILS_PER_ADDRESS_PER_DAY) return;
        const title = client.statusPage.title ?? client.name;
        // At most one mail per address and hour, however often the form is sent.
        const hour = Math.floor(now.getTime() / 3_600_000);
        await outbox.enqueue(em, active
          ? {
              kind: 'status.subscription_exists',
              incidentId: null,
              recipients: [address],
              subject: `You are already subscribed to ${title}`,
              body: `Someone asked to subscribe this address to ${title} status updates. It already is.${footer(subscriber)}`,
              headers: unsubscribeHeaders(subscriber),
              eventKey: `status.subscription_exists:${subscriber.id}:${hour}`,
            }
          : {
              kind: 'status.subscription_confirm',
              incidentId: null,
              recipients: [address],
              subject: `Confirm your subscription to ${title}`,
              body: `Someone (hopefully you) asked to receive ${title} status updates at this address.\n\nConfirm within 7 days: ${link(subscriber, 'subscription/confirm', CONFIRM, CONFIRM_VALID_MS)}\n\nIf it was not you, ignore this e-mail: nothing more will be sent.${footer(subscriber)}`,
              headers: unsubscribeHeaders(subscriber),
              eventKey: `status.subscription_confirm:${subscriber.id}:${hour}`,
            });
        await em.flush();
      });
    },

    async confirm(clientId: string, token: string): Promise<boolean> {
      const subscriber = await subscriberFor(clientId, token, CONFIRM);
      if (!subscriber || subscriber.unsubscribedAt) return false;
      await orm.em.fork().nativeUpdate(StatusSubscriberSchema, { id: subscriber.id, confirmedAt: null }, { confirmedAt: clock.now() });
      return true;
    },

    /** Idempotent: a second click (or a mail client's one-click POST) answers the same. */
    async unsubscribe(clientId: string, token: string): Promise<boolean> {
      const subscriber = await subscriberFor(clientId, token, UNSUBSCRIBE);
      if (!subscriber) return false;
      await orm.em.fork().nativeUpdate(StatusSubscriberSchema, { id: subscriber.id, unsubscribedAt: null }, { unsubscribedAt: clock.now() });
      return true;
    },
  };
}
