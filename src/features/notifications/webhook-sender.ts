import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, type Registry } from 'prom-client';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { createPollingLoop } from '../../platform/polling-loop';
import type { Logger } from '../../platform/logger';

const BATCH = 20;
const LEASE_MS = 30_000;
const TIMEOUT_MS = 10_000;

/** Exponential backoff: 5 s, 10 s, 20 s ... capped at 10 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 600_000);
}

interface Claimed {
  id: string;
  recipient: string;
  kind: string;
  subject: string;
  body: string;
  attempts: number;
  created_at: string;
  incident_id: number | null;
  combined_count: number;
}

/**
 * Delivers outbox rows of the webhook channel: POSTs Slack/Teams-compatible JSON
 * (`{"text": ...}` plus details) and records the outcome. Rows are leased, not locked
 * across the HTTP call: a sender that dies mid-way leaves a lease that expires and the row
 * is sent again (receivers can deduplicate on the X-Incidentd-Notification header).
 * Failures retry with backoff until `notifications.giveUpAfter`, then the row is dead
 * (visible, counted, retriable by an admin).
 */
export function createWebhookSender(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; logger: Logger; registry: Registry }) {
  const delivered = new Counter({ name: 'incidentd_notifications_total', help: 'Notification delivery attempts by channel and result', labelNames: ['channel', 'result'] as const, registers: [deps.registry] });

  async function claim(): Promise<Claimed[]> {
    const now = deps.clock.now();
    return deps.orm.em.getConnection().execute<Claimed[]>(
      `update notification set status = 'sending', lease_until = ?, attempts = attempts + 1
       where id in (
         select id from notification
         where channel = 'webhook'
           and ((status = 'pending' and next_attempt_at <= ?) or (status = 'sending' and lease_until < ?))
         order by next_attempt_at limit ? for update skip locked)
       returning id, recipient, kind, subject, body, attempts, created_at, incident_id, combined_count`,
      [new Date(now.getTime() + LEASE_MS), now, now, BATCH],
    );
  }

  async function deliver(row: Claimed): Promise<void> {
    const webhook = deps.configStore.current.notifications.webhooks.find((candidate) => candidate.name === row.recipient);
    const connection = deps.orm.em.getConnection();
    let error: string | null = null;
    if (!webhook) {
      error = `webhook "${row.recipient}" is no longer configured`;
    } else {
      try {
        const response = await fetch(webhook.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Incidentd-Notification': String(row.id) },
          body: JSON.stringify({ text: `*${row.subject}*\n${row.body}`, kind: row.kind, notificationId: String(row.id), incidentId: row.incident_id }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        if (!response.ok) error = `HTTP ${response.status} ${response.statusText}`;
      } catch (failure) {
        error = failure instanceof Error ? failure.message : String(failure);
      }
    }
    const now = deps.clock.now();
    if (!error) {
      await connection.execute("update notification set status = 'sent', sent_at = ?, lease_until = null, last_error = null where id = ?", [now, row.id]);
      delivered.inc({ channel: 'webhook', result: 'sent' });
      return;
    }
    const giveUpMs = parseDuration(deps.configStore.current.notifications.giveUpAfter) ?? 86_400_000;
    const dead = !webhook || now.getTime() - new Date(row.created_at).getTime() >= giveUpMs;
    await connection.execute("update notification set status = ?, next_attempt_at = ?, lease_until = null, last_error = ? where id = ?", [
      dead ? 'dead' : 'pending',
      new Date(now.getTime() + retryDelayMs(row.attempts)),
      error,
      row.id,
    ]);
    delivered.inc({ channel: 'webhook', result: dead ? 'dead' : 'retry' });
    deps.logger.warn({ notificationId: row.id, webhook: row.recipient, error, attempts: row.attempts, dead }, dead ? 'webhook notification given up' : 'webhook notification failed; will retry');
  }

  async function runOnce(): Promise<number> {
    const rows = await claim();
    await Promise.all(rows.map(deliver));
    return rows.length;
  }

  const loop = createPollingLoop({
    name: 'webhook sender',
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
    stop: loop.stop,
  };
}
