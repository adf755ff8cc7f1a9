/**
 * Configuration of outgoing e-mail (`smtp`) and of client communications during major
 * incidents (`communications`, overridable per client). Part of the configuration
 * reference, like config-schema.ts.
 */
import { z } from 'zod';
import { notifyTargetSchema } from './escalation-config-schema';

const durationText = z.string().regex(/^(\d+[wdhms])+$/, 'expected a duration like 15m, 4h or 1h30m');
const severity = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)], { error: 'expected a severity 1, 2, 3 or 4' });
// Numbers and numeric strings, so `${SMTP_PORT:-587}` works; the same for flags.
const port = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int().min(1).max(65535));
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/** The mail server e-mails are handed to (nodemailer SMTP transport). Without it, e-mails wait in the outbox. */
export const smtpSchema = z.strictObject({
  host: z.string().min(1),
  port: port.default(587),
  /** TLS from the first byte (usually port 465). When false, STARTTLS is used if the server offers it. */
  secure: flag.default(false),
  /** Refuse to send unless STARTTLS succeeds (secure: false only). */
  requireTLS: flag.default(false),
  /** Check the server's certificate (turn off only for a test server with a self-signed certificate). */
  verifyCertificate: flag.default(true),
  auth: z.strictObject({ user: z.string().min(1), pass: z.string().min(1) }).optional(),
  /** Sender, e.g. "Precision Service Desk <servicedesk@precision.example>". */
  from: z.string().regex(/<[^<>@\s]+@[^<>@\s]+>$|^[^<>@\s]+@[^<>@\s]+$/, 'expected an address like servicedesk@example.com or "Name <servicedesk@example.com>"'),
  /** Replies from clients go here (default: the sender). */
  replyTo: z.email().optional(),
  /** Connections kept open to the server. */
  maxConnections: z.number().int().min(1).max(50).default(3),
  /** Connection, greeting and socket timeout. */
  timeout: durationText.default('30s'),
});
export type SmtpConfig = z.infer<typeof smtpSchema>;

const perSeverity = z.strictObject({ sev1: durationText.optional(), sev2: durationText.optional(), sev3: durationText.optional(), sev4: durationText.optional() });

/** Every key is optional here: clients[].communications overrides only what it names. */
const communicationsShape = {
  /** Severities whose incidents are communicated to the client (INC-09: Sev1 and Sev2). */
  severities: z.array(severity),
  /** The client is told of a new incident within this time (their SLA's notification target). */
  notifyWithin: perSeverity,
  /** Wait up to this long for staff's first public words before the first notice goes out with a standard text (never beyond notifyWithin; 0m = at once). */
  initialNoticeHold: durationText,
  /** A public update is due this often while the incident is open. */
  updateEvery: perSeverity,
  /** Remind the people in `remind` this long before an update is due. */
  remindBefore: durationText,
  /** When an update falls due without a new one, send the latest public update again automatically. */
  autoSendUpdates: flag,
  /** Who is reminded (escalation targets: team, user, oncall, role, accountManager). */
  remind: z.array(notifyTargetSchema),
  /** How long the "confirm restoration" link in the restoration e-mail works. */
  restorationLinkValidFor: durationText,
};

export const communicationsSchema = z.strictObject({
  severities: communicationsShape.severities.default([1, 2]),
  notifyWithin: communicationsShape.notifyWithin.default({ sev1: '15m', sev2: '30m' }),
  initialNoticeHold: communicationsShape.initialNoticeHold.default('5m'),
  updateEvery: communicationsShape.updateEvery.default({ sev1: '30m', sev2: '60m' }),
  remindBefore: communicationsShape.remindBefore.default('10m'),
  autoSendUpdates: communicationsShape.autoSendUpdates.default(false),
  remind: communicationsShape.remind.default([{ role: 'incident_manager' }]),
  restorationLinkValidFor: communicationsShape.restorationLinkValidFor.default('7d'),
});
export type CommunicationsConfig = z.infer<typeof communicationsSchema>;

/** Per-client overrides of `communications` (per-severity maps merge key by key). */
export const clientCommunicationsSchema = z.strictObject(communicationsShape).partial();
export type ClientCommunicationsConfig = z.infer<typeof clientCommunicationsSchema>;

/** The communications policy in force for one client. */
export function communicationsFor(global: CommunicationsConfig, client: { communications?: ClientCommunicationsConfig } | undefined): CommunicationsConfig {
  const own = client?.communications ?? {};
  return {
    ...global,
    ...Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined)),
    notifyWithin: { ...global.notifyWithin, ...own.notifyWithin },
    updateEvery: { ...global.updateEvery, ...own.updateEvery },
  };
}
