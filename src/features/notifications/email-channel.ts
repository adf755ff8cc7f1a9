import nodemailer, { type Transporter } from 'nodemailer';
import { parseDuration } from '../../config/config-schema';
import type { SmtpConfig } from '../../config/communications-config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Branding, EmailTemplates } from './email-templates';
import type { DeliveryChannel, OutboxMessage } from './notification-sender';

/** The domain of the sender address, for Message-IDs. */
function senderDomain(from: string): string {
  const address = /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from;
  return address.split('@')[1]?.trim() || 'incidentd.invalid';
}

/** The display name of the sender ("Precision Service Desk"), or the address. */
export function senderName(from: string): string {
  const name = /^\s*"?([^"<]*?)"?\s*</.exec(from)?.[1];
  return name || from;
}

/**
 * SMTP 5xx replies to the envelope or the message are permanent for that message (RFC 5321;
 * 503 is a session-state error and may pass on a new connection). Authentication and
 * connection failures are not: they hit every message and clear once the server or the
 * configuration is fixed.
 */
export function isPermanentRejection(error: unknown): boolean {
  const { code, responseCode } = (error ?? {}) as { code?: string; responseCode?: number };
  return (code === 'EENVELOPE' || code === 'EMESSAGE') && typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600 && responseCode !== 503;
}

/**
 * E-mail through nodemailer's pooled SMTP transport (config `smtp`, re-created when it
 * changes on reload). Every outbox row has a fixed Message-ID, derived from the row, so a
 * re-send after a crash between sending and recording is the same message to the
 * recipient's mail system, which shows it once.
 */
export function createEmailChannel(deps: { configStore: ConfigStore; templates: EmailTemplates }): DeliveryChannel {
  let transport: Transporter | null = null;
  let transportConfig = '';

  function transportFor(smtp: SmtpConfig): Transporter {
    const key = JSON.stringify(smtp);
    if (!transport || key !== transportConfig) {
      transport?.close();
      const timeout = parseDuration(smtp.timeout) ?? 30_000;
      transport = nodemailer.createTransport({
        pool: true,
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        requireTLS: smtp.requireTLS,
        auth: smtp.auth,
        tls: { rejectUnauthorized: smtp.verifyCertificate },
        maxConnections: smtp.maxConnections,
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
      });
      transportConfig = key;
    }
    return transport;
  }

  /** Staff pages are written as plain text; their HTML part is the plain text in the staff layout. */
  function htmlOf(message: OutboxMessage, smtp: SmtpConfig): string {
    if (message.html) return message.html;
    const brand: Branding = { name: senderName(smtp.from) };
    return deps.templates.render('staff-page', { subject: message.subject, body: message.body }, brand).html;
  }

  return {
    name: 'email',
    enabled: () => deps.configStore.current.smtp !== undefined,
    async deliver(message) {
      const smtp = deps.configStore.current.smtp!;
      const messageId = `<incidentd.${message.id}.${message.createdAt.getTime()}@${senderDomain(smtp.from)}>`;
      try {
        const info = await transportFor(smtp).sendMail({
          from: smtp.from,
          replyTo: smtp.replyTo,
          to: message.recipient,
          subject: message.subject,
          text: message.body,
          html: htmlOf(message, smtp),
          messageId,
          headers: {
            ...message.headers,
            'X-Incidentd-Notification': message.id,
            // RFC 3834: an automatic message; out-of-office replies should not answer it.
            'Auto-Submitted': 'auto-generated',
          },
        });
        return { ok: true, response: String(info.response ?? 'accepted'), messageId };
      } catch (error) {
        return { ok: false, error: error instanceof Error ? error.message : String(error), permanent: isPermanentRejection(error), messageId };
      }
    },
    close() {
      transport?.close();
      transport = null;
    },
  };
}
