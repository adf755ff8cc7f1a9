import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, type Registry } from 'prom-client';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { createPollingLoop } from '../../platform/polling-loop';
import type { Logger } from '../../platform/logger';

const BATCH = 20;
// Longer than a batch can take (20 messages over a few SMTP connections, 30 s timeouts),
// so another replica does not take over a row that is still being sent.
const LEASE_MS = 5 * 60_000;

/** Records an outcome only while this sender still holds the lease it claimed (same attempt). */
const LEASE_HELD = "id = ? and status = 'sending' and attempts = ?";

/** Exponential backoff: 5 s, 10 s, 20 s ... capped at 10 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 600_000);
}

/** An outbox row leased for delivery. */
export interface OutboxMessage {
  id: string;
  channel: string;
  recipient: string;
  kind: string;
  subject: string;
  body: string;
  html: string | null;
  headers: Record<string, string> | null;
  attempts: number;
  createdAt: Date;
  /** When the delivery window started: creation, or an admin's retry. */
  windowStart: Date;
  incidentId: number | null;
  clientId: string | null;
  combinedCount: number;
}

export type DeliveryOutcome = { ok: true; response: string; messageId?: string } | { ok: false; error: string; permanent: boolean; messageId?: string };

/** One way out (e-mail, webhook). A channel that is not configured leaves its rows waiting. */
export interface DeliveryChannel {
  name: string;
  enabled(): boolean;
  deliver(message: OutboxMessage): Promise<DeliveryOutcome>;
  close?(): Promise<void> | void;
}

/**
 * Drains the notification outbox: leases due rows (FOR UPDATE SKIP LOCKED, so replicas
 * share the work), hands each to its channel and records the outcome with the server's
 * answer. A lease, not a lock, is held across the network call: a sender that dies
 * mid-way leaves a lease that expires and the row is sent again with the same Message-ID
 * (a receiver can tell it is the same message; many mail systems show it once). Failures retry with exponential
 * backoff until `notifications.giveUpAfter`; a permanent rejection (SMTP 5xx for the
 * recipient or message) gives up at once. Given-up rows are `dead`: listed, counted in
 * a metric, retriable by an admin.
 */
export function createNotificationSender(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; logger: Logger; registry: Registry; channels: DeliveryChannel[] }) {
  const delivered = new Counter({ name: 'incidentd_notifications_total', help: 'Notification delivery attempts by channel and result (sent, retry, dead)', labelNames: ['channel', 'result'] as const, registers: [deps.registry] });
  // Each channel's results start at 0, so the first dead letter shows in rate() and increase().
  for (const channel of deps.channels) for (const result of ['sent', 'retry', 'dead'] as const) delivered.inc({ channel: channel.name, result }, 0);
  new Gauge({
    name: 'incidentd_notification_outbox',
    help: 'Outbox rows not delivered (yet), by channel and status: pending, sending, dead (given up, waiting for an admin)',
    labelNames: ['channel', 'status'] as const,
    registers: [deps.registry],
    async collect() {
      const rows = await deps.orm.em.fork().getConnection().execute<{ channel: string; status: string; count: string }[]>("select channel, status, count(*) from notification where status <> 'sent' group by channel, status");
      this.reset();
      for (const row of rows) this.set({ channel: row.channel, status: row.status }, Number(row.count));
    },
  });

  async function claim(channels: string[]): Promise<OutboxMessage[]> {
    const now = deps.clock.now();
    const rows = await deps.orm.em.getConnection().execute<(Omit<OutboxMessage, 'id' | 'createdAt' | 'windowStart'> & { id: string | number; createdAt: string | Date; windowStart: string | Date })[]>(
      `update notification set status = 'sending', lease_until = ?, attempts = attempts + 1
       where id in (
         select id from notification
         where channel in (${channels.map(() => '?').join(', ')})
           and ((status = 'pending' and next_attempt_at <= ?) or (status = 'sending' and lease_until < ?))
         order by next_attempt_at limit ? for update skip locked)
       returning id, channel, recipient, kind, subject, body, html, headers, attempts, created_at as "createdAt", coalesce(retried_at, created_at) as "windowStart",
         incident_id as "incidentId", client_id as "clientId", combined_count as "combinedCount"`,
      [new Date(now.getTime() + LEASE_MS), ...channels, now, now, BATCH],
    );
    return rows.map((row) => ({ ...row, id: String(row.id), createdAt: new Date(row.createdAt), windowStart: new Date(row.windowStart) }));
  }

  async function deliver(channel: DeliveryChannel, message: OutboxMessage): Promise<void> {
    let outcome: DeliveryOutcome;
    try {
      outcome = await channel.deliver(message);
    } catch (error) {
      outcome = { ok: false, error: error instanceof Error ? error.message : String(error), permanent: false };
    }
    const connection = deps.orm.em.getConnection();
    const now = deps.clock.now();
    if (outcome.ok) {
      await connection.execute(`update notification set status = 'sent', sent_at = ?, lease_until = null, last_error = null, response = ?, message_id = ? where ${LEASE_HELD}`, [now, outcome.response.slice(0, 1000), outcome.messageId ?? null, message.id, message.attempts]);
      delivered.inc({ channel: channel.name, result: 'sent' });
      return;
    }
    const giveUpMs = parseDuration(deps.configStore.current.notifications.giveUpAfter) ?? 86_400_000;
    const dead = outcome.permanent || now.getTime() - message.windowStart.getTime() >= giveUpMs;
    await connection.execute(`update notification set status = ?, next_attempt_at = ?, lease_until = null, last_error = ?, message_id = coalesce(?, message_id) where ${LEASE_HELD}`, [
      dead ? 'dead' : 'pending',
      new Date(now.getTime() + retryDelayMs(message.attempts)),
      outcome.error.slice(0, 2000),
      outcome.messageId ?? null,
      message.id,
      message.attempts,
    ]);
    delivered.inc({ channel: channel.name, result: dead ? 'dead' : 'retry' });
    deps.logger.warn(
      { notificationId: message.id, channel: channel.name, kind: message.kind, error: outcome.error, attempts: message.attempts, dead, permanent: outcome.permanent },
      dead ? 'notification given up (dead letter)' : 'notification failed; will retry',
    );
  }

  async function runOnce(): Promise<number> {
    const enabled = deps.channels.filter((channel) => channel.enabled());
    if (enabled.length === 0) return 0;
    const messages = await claim(enabled.map((channel) => channel.name));
    await Promise.all(messages.map((message) => deliver(enabled.find((channel) => channel.name === message.channel)!, message)));
    return messages.length;
  }

  const loop = createPollingLoop({
    name: 'notification sender',
    intervalMs: 1000,
    logger: deps.logger,
    work: async () => {
      let total = 0;
      for (;;) {
        const count = await runOnce();
        total += count;
        if (count < BATCH) return total;
      }
    },
  });

  return {
    /** Sends everything due now; for tests and the loop. */
    runDue: loop.runNow,
    start: loop.start,
    async stop(): Promise<void> {
      await loop.stop();
      for (const channel of deps.channels) await channel.close?.();
    },
  };
}
export type NotificationSender = ReturnType<typeof createNotificationSender>;
