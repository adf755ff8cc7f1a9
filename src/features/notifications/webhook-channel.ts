import type { ConfigStore } from '../../config/config-store';
import type { DeliveryChannel } from './notification-sender';

const TIMEOUT_MS = 10_000;

/**
 * Outbound webhooks: POSTs Slack/Teams-compatible JSON (`{"text": ...}` plus details).
 * Receivers can deduplicate on the X-Incidentd-Notification header (a re-send after a
 * crash carries the same id).
 */
export function createWebhookChannel(deps: { configStore: ConfigStore }): DeliveryChannel {
  return {
    name: 'webhook',
    enabled: () => true,
    async deliver(message) {
      const webhook = deps.configStore.current.notifications.webhooks.find((candidate) => candidate.name === message.recipient);
      if (!webhook) return { ok: false, error: `webhook "${message.recipient}" is no longer configured`, permanent: true };
      try {
        const response = await fetch(webhook.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Incidentd-Notification': message.id },
          body: JSON.stringify({ text: `*${message.subject}*\n${message.body}`, kind: message.kind, notificationId: message.id, incidentId: message.incidentId }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        // Even a 4xx retries until giveUpAfter: a misconfigured receiver may be fixed meanwhile.
        if (!response.ok) return { ok: false, error: `HTTP ${response.status} ${response.statusText}`, permanent: false };
        return { ok: true, response: `HTTP ${response.status}` };
      } catch (failure) {
        return { ok: false, error: failure instanceof Error ? failure.message : String(failure), permanent: false };
      }
    },
  };
}
