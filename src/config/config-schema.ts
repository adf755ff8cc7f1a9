/**
 * incidentd configuration schema: the "catalog of the MSP's world".
 *
 * This file is the configuration reference. Every key accepted in
 * config/incidentd.yaml is declared here with a one-line comment. Objects are
 * strict, so a misspelled key ("slaa") is an error rather than silently ignored.
 *
 * Conventions
 * - Durations are kept as strings in the parsed config (e.g. "15m", "4h", "1h30m",
 *   "2d", "1w") and validated here; consumers convert them with `parseDuration()`.
 * - Times of day are "HH:MM" (24h clock) in the client's time zone; "24:00" is
 *   accepted as an end time meaning "end of day". The time of the daily jobs
 *   (escalation.dailyDigestAt) is in the MSP's own top-level `timezone`.
 * - Ids are slugs (lowercase letters, digits, dashes); CI ids may also contain dots.
 * - `${VAR}` / `${VAR:-default}` in string values is expanded by the loader
 *   (src/config/load-config.ts) before validation; `$${` is a literal `${`.
 * - Cross references (service -> client, service -> CI, CI -> CI, integration ->
 *   client) and uniqueness of ids are checked by the root `superRefine`, which
 *   runs even when other parts of the file are invalid so that all problems are
 *   reported at once.
 */
import { z } from 'zod';
import { ROLES } from '../features/auth/roles';
import { DateTime, IANAZone } from 'luxon';
import { DEFAULT_PRIORITY_MATRIX } from '../features/incidents/incident-rules';
import { escalationPolicySchema, escalationSettingsSchema, notificationsSchema, oncallSchema } from './escalation-config-schema';
import { clientCommunicationsSchema, communicationsSchema, smtpSchema } from './communications-config-schema';
import { clientIncidentPolicySchema, correlationSchema, incidentsSchema, priorityMatrixSchema, routingSchema } from './incident-config-schema';
import { cabSchema, changeApprovalSchema, checkChangeReferences, freezeSchema, standardChangeSchema } from './change-config-schema';
import { statusPageOptions } from './status-page-config-schema';

// ---------------------------------------------------------------------------
// Small enums
// ---------------------------------------------------------------------------

/** Staff / portal roles: defined with access control, re-exported for config users. */
export { ROLES, type Role } from '../features/auth/roles';
export const roleSchema = z.enum(ROLES);

/** Incident severities, sev1 = most severe. */
export const SEVERITIES = ['sev1', 'sev2', 'sev3', 'sev4'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const severitySchema = z.enum(SEVERITIES);

/** Criticality of a configuration item. */
export const CI_CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type CiCriticality = (typeof CI_CRITICALITIES)[number];
export const ciCriticalitySchema = z.enum(CI_CRITICALITIES);

/** Environment a configuration item runs in. */
export const ENVIRONMENTS = ['production', 'staging', 'test'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const environmentSchema = z.enum(ENVIRONMENTS);

/**
 * Client contact roles are free strings; these are the ones incidentd itself
 * understands:
 * - primary:   main point of contact, receives incident communications
 * - technical: technical contact for troubleshooting
 * - approver:  may approve changes on behalf of the client
 * - notify:    receives notifications only
 */
export const USUAL_CONTACT_ROLES = ['primary', 'technical', 'approver', 'notify'] as const;
export type ContactRole = string;

/** Kinds of inbound integrations (webhook senders). */
export const INTEGRATION_TYPES = ['alertmanager', 'grafana', 'generic', 'change_events'] as const;
export type IntegrationType = (typeof INTEGRATION_TYPES)[number];
export const integrationTypeSchema = z.enum(INTEGRATION_TYPES);

/** Weekday names used by business hours and maintenance windows. */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const weekdaySchema = z.enum(WEEKDAYS);

/** Log levels (pino). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Which clock an SLA target runs on: around the clock, or only during the client's business hours. */
export const SLA_HOURS = ['24x7', 'business'] as const;
export type SlaHours = (typeof SLA_HOURS)[number];

/** When a client must approve a change: always, only high-risk changes, or never. */
export const CLIENT_APPROVAL_MODES = ['always', 'high_risk', 'never'] as const;
export type ClientApprovalMode = (typeof CLIENT_APPROVAL_MODES)[number];

// ---------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------

const DURATION_UNIT_MS: Record<string, number> = {
  w: 7 * 24 * 60 * 60 * 1000,
  d: 24 * 60 * 60 * 1000,
  h: 60 * 60 * 1000,
  m: 60 * 1000,
  s: 1000,
};
const DURATION_UNIT_ORDER = ['w', 'd', 'h', 'm', 's'];

/**
 * Parses a duration such as `30s`, `15m`, `4h`, `2d`, `1w` or `1h30m` into
 * milliseconds. Components are whole numbers with a unit (w, d, h, m, s), each
 * unit at most once, largest unit first. Returns undefined for anything else
 * (including `15 minutes`, `1.5h`, `30` and the empty string).
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return undefined;
  const re = /(\d+)([wdhms])/y;
  let index = 0;
  let lastUnit = -1;
  let total = 0;
  while (index < text.length) {
    re.lastIndex = index;
    const m = re.exec(text);
    if (!m) return undefined;
    const unitIndex = DURATION_UNIT_ORDER.indexOf(m[2]);
    if (unitIndex <= lastUnit) return undefined; // repeated or out-of-order unit ("30m1h", "1h1h")
    lastUnit = unitIndex;
    total += Number(m[1]) * DURATION_UNIT_MS[m[2]];
    index = re.lastIndex;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Renders a received value for an error message, e.g. `"15 minutes"` or `15`. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(shown);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/**
 * Error function for string-ish schemas: only produces a message for a value
 * that is present (missing keys and wrong container types are described by the
 * loader's generic error map instead).
 */
function presentValueError(describe: (got: string) => string) {
  return (iss: { input?: unknown }): string | undefined => {
    const input = iss.input;
    if (input === undefined || input === null || typeof input === 'object') return undefined;
    return describe(showValue(input));
  };
}

export const durationMessage = (got: string): string => `expected a duration like 15m, 4h or 1h30m (got ${got})`;

/** A duration string such as "15m", "4h", "1h30m"; converted with parseDuration(). */
export const durationSchema = z
  .string({ error: presentValueError(durationMessage) })
  .refine((v) => parseDuration(v) !== undefined, { error: presentValueError(durationMessage) });

// ---------------------------------------------------------------------------
// Primitive value schemas
// ---------------------------------------------------------------------------

const SLUG_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const CI_ID_RE = /^[a-z0-9]+(?:[-.][a-z0-9]+)*$/;
const TIME_RE = /^(?:[01]\d|2[0-3]):[0-5]\d$/;
const END_TIME_RE = /^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const SIZE_RE = /^\d+(?:\.\d+)?\s*(?:b|kb|mb|gb)$/i;

/** Lowercase letters, digits and single dashes, e.g. "acme-health". */
export const slugSchema = z
  .string()
  .regex(SLUG_RE, {
    error: presentValueError((got) => `expected an id made of lowercase letters, digits and dashes, e.g. "acme-health" (got ${got})`),
  });

/** Like a slug, but dots are allowed too, e.g. "db-01.acme". */
export const ciIdSchema = z
  .string()
  .regex(CI_ID_RE, {
    error: presentValueError((got) => `expected an id made of lowercase letters, digits, dashes and dots, e.g. "db-01.acme" (got ${got})`),
  });

/** A non-empty string that names something defined elsewhere in the file (checked by the cross-reference pass). */
const referenceSchema = z.string().min(1);

const nonEmptyString = z.string().min(1);

export const emailSchema = z.email({ error: presentValueError((got) => `expected an email address (got ${got})`) });

export const httpUrlSchema = z.url({
  protocol: /^https?$/,
  error: presentValueError((got) => `expected an http:// or https:// URL (got ${got})`),
});

/** "HH:MM", 00:00 - 23:59. */
export const timeOfDaySchema = z
  .string()
  .regex(TIME_RE, { error: presentValueError((got) => `expected a time like 09:00 or 17:30 (got ${got})`) });

/** "HH:MM", 00:00 - 24:00 (24:00 = end of day). */
export const endTimeOfDaySchema = z
  .string()
  .regex(END_TIME_RE, { error: presentValueError((got) => `expected a time like 17:30 or 24:00 (got ${got})`) });

/** "YYYY-MM-DD", a real calendar date. */
export const isoDateSchema = z
  .string()
  .refine((v) => DATE_RE.test(v) && DateTime.fromISO(v).isValid, {
    error: presentValueError((got) => `expected a date like 2025-12-25 (got ${got})`),
  });

/** An IANA time zone such as Europe/London. */
export const timezoneSchema = z.string().refine((v) => IANAZone.isValidZone(v), {
  error: presentValueError((got) => `unknown time zone ${got}; use an IANA zone like Europe/London or America/New_York`),
});

/** Accepts numbers and numeric strings (so `${PORT:-8080}` works). */
const portSchema = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z.number().int().min(1).max(65535),
);

/**
 * A listen address "host:port" ("[::1]:9464" for IPv6; port 0 picks a free port), or "off" /
 * false for none. Becomes `{ host, port }` or null.
 */
const listenAddressSchema = z.preprocess(
  (v) => (v === false || v === 'off' || v === 'false' ? null : v),
  z
    .string({ error: presentValueError((got) => `expected host:port such as 127.0.0.1:9464, or off (got ${got})`) })
    .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, { error: presentValueError((got) => `expected host:port such as 127.0.0.1:9464 or [::1]:9464, or off (got ${got})`) })
    .transform((text) => {
      const colon = text.lastIndexOf(':');
      return { host: text.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(text.slice(colon + 1)) };
    })
    .refine((address) => address.port <= 65535, { error: 'the port must be at most 65535' })
    .nullable(),
);

/** Accepts booleans and the strings "true"/"false" (so `${TRUST_PROXY:-false}` works). */
const flagSchema = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const DEFAULT_BUSINESS_DAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];

function minutesOfDay(time: string): number {
  const [h, m] = time.split(':').map(Number);
  return h * 60 + m;
}

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

/**
 * The URL a daemon listening on host:port is reached at when no publicUrl is configured. A
 * wildcard address (0.0.0.0, ::) is nothing a browser can open, so it becomes 127.0.0.1.
 */
export function defaultPublicUrl(host: string, port: number): string {
  const wildcard = ['0.0.0.0', '::', '[::]'].includes(host);
  const name = wildcard ? '127.0.0.1' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/** HTTP server, as written (see serverSchema). */
const serverFieldsSchema = z.strictObject({
  /** Interface to listen on; use 0.0.0.0 to listen on all interfaces. */
  host: nonEmptyString.default('127.0.0.1'),
  /** TCP port to listen on. */
  port: portSchema.default(8080),
  /**
   * URL users reach incidentd at; used to build links in e-mails and notifications. Absent or
   * empty (`${PUBLIC_URL:-}` with PUBLIC_URL unset): http://host:port, so changing only the
   * port keeps links working.
   */
  publicUrl: z.preprocess((v) => (v === '' ? undefined : v), httpUrlSchema.optional()),
  /**
   * Behind reverse proxies: the number of proxies in front of incidentd, whose
   * X-Forwarded-For entries are trusted (client addresses drive the sign-in rate limit).
   * `true` trusts every entry, which a client can forge: prefer the count.
   */
  trustProxy: z.union([flagSchema, z.number().int().min(1)], { error: 'expected false, true or the number of trusted proxies (e.g. 1)' }).default(false),
  /** Mark session cookies Secure (set when served over HTTPS). */
  secureCookies: flagSchema.default(false),
  /** Maximum request body size for the API and forms, e.g. "512kb" or "1mb". */
  bodyLimit: z
    .string()
    .regex(SIZE_RE, { error: presentValueError((got) => `expected a size like 512kb or 10mb (got ${got})`) })
    .default('1mb'),
  /** Maximum alert webhook body size: an alert storm sends thousands of alerts in one group. */
  intakeBodyLimit: z
    .string()
    .regex(SIZE_RE, { error: presentValueError((got) => `expected a size like 512kb or 10mb (got ${got})`) })
    .default('25mb'),
  /** Alert webhooks handled at once; beyond this the daemon answers 503 so senders retry (load shedding). */
  maxConcurrentIntake: z.number().int().min(1).default(64),
  /**
   * Where Prometheus scrapes `/metrics`: a second listener of its own, "host:port" (default
   * 127.0.0.1:9464, this machine only), or off. Metrics name clients and count their open
   * incidents, so they are never served on the main listener with the public status pages,
   * except with `off` and a `metricsToken` (then `/metrics` there needs the token).
   */
  metricsListen: listenAddressSchema.default({ host: '127.0.0.1', port: 9464 }),
  /** Bearer token scrapers must send (`authorization: { credentials: … }` in Prometheus), at least 16 characters; empty: none. */
  metricsToken: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(16, { error: 'must be at least 16 characters' }).optional()),
});

/** HTTP server; publicUrl is filled in from host and port when it is not set. */
export const serverSchema = serverFieldsSchema.transform((server) => ({ ...server, publicUrl: server.publicUrl ?? defaultPublicUrl(server.host, server.port) }));

/** PostgreSQL. */
export const databaseSchema = z.strictObject({
  /** postgres:// connection URL of an external server. The DATABASE_URL environment variable overrides it. When neither is set, an embedded PostgreSQL is started. */
  url: z
    .string()
    .regex(/^postgres(?:ql)?:\/\/\S+$/, { error: 'expected a postgres:// or postgresql:// connection URL' })
    .optional(),
  /** Embedded PostgreSQL (used when no url is configured). */
  embedded: z
    .strictObject({
      /** Directory holding the embedded cluster's data files. */
      dataDir: nonEmptyString.default('./data'),
      /** Port the embedded server listens on (localhost only). */
      port: portSchema.default(54329),
    })
    .prefault({}),
});

/** Logging. */
export const loggingSchema = z.strictObject({
  /** Minimum level written to the log. */
  level: z.enum(LOG_LEVELS).default('info'),
});

/** A person at the client. */
export const contactSchema = z.strictObject({
  /** Full name. */
  name: nonEmptyString,
  /** E-mail address; unique within the client. */
  email: emailSchema,
  /** Free-form roles; incidentd understands primary, technical, approver and notify. */
  roles: z.array(nonEmptyString).default([]),
  /** Phone number, free format (used for sev1 call-outs). */
  phone: nonEmptyString.optional(),
});

/** Response / resolution target for one severity. */
export const slaTargetSchema = z
  .strictObject({
    /** Time until a human acknowledges/responds. */
    respond: durationSchema,
    /** Time until the incident is resolved. */
    resolve: durationSchema,
    /** Clock the targets run on: "24x7" or "business" (the client's businessHours). */
    hours: z.enum(SLA_HOURS).default('24x7'),
  })
  .superRefine((target, ctx) => {
    const respond = parseDuration(target.respond);
    const resolve = parseDuration(target.resolve);
    if (respond !== undefined && resolve !== undefined && resolve < respond) {
      ctx.addIssue({
        code: 'custom',
        path: ['resolve'],
        message: `resolve target (${target.resolve}) must not be shorter than the respond target (${target.respond})`,
      });
    }
  });

/** SLA targets per severity; all four severities are required. */
export const slaSchema = z.strictObject({
  /** Critical: service down for many users. */
  sev1: slaTargetSchema,
  /** Major: service degraded / important function unavailable. */
  sev2: slaTargetSchema,
  /** Minor: limited impact, workaround available. */
  sev3: slaTargetSchema,
  /** Low: cosmetic issues, questions. */
  sev4: slaTargetSchema,
});

/** The client's working hours, in the client's time zone. */
export const businessHoursSchema = z
  .strictObject({
    /** Working days (default mon-fri). */
    days: z.array(weekdaySchema).min(1).default(DEFAULT_BUSINESS_DAYS),
    /** Start of the working day, "HH:MM". */
    start: timeOfDaySchema,
    /** End of the working day, "HH:MM" (must be after start). */
    end: endTimeOfDaySchema,
    /** Public holidays on which the SLA clock does not run, "YYYY-MM-DD". */
    holidays: z.array(isoDateSchema).default([]),
  })
  .superRefine((bh, ctx) => {
    if (minutesOfDay(bh.end) <= minutesOfDay(bh.start)) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: `business hours must end after they start (${bh.start}-${bh.end})` });
    }
  });

/**
 * Recurring maintenance window, in the client's time zone. `end <= start` means
 * the window crosses midnight (mon-fri 19:00-05:00 runs from Monday 19:00 until
 * Tuesday 05:00, ...). `allDay: true` (or 00:00-24:00) covers the whole day.
 * Output is normalised: start/end are always set ("00:00"/"24:00" for all-day
 * windows) and allDay is true exactly for whole-day windows.
 */
export const maintenanceWindowSchema = z
  .strictObject({
    /** Optional label shown in the UI, e.g. "Weeknight patching". */
    name: nonEmptyString.optional(),
    /** Days on which the window starts. */
    days: z.array(weekdaySchema).min(1),
    /** Start time "HH:MM" (required unless allDay). */
    start: timeOfDaySchema.optional(),
    /** End time "HH:MM"; <= start crosses midnight; 24:00 = end of day (required unless allDay). */
    end: endTimeOfDaySchema.optional(),
    /** The window covers the whole day. */
    allDay: z.boolean().default(false),
  })
  .superRefine((w, ctx) => {
    if (w.allDay) {
      if (w.start !== undefined || w.end !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['allDay'], message: 'use either allDay: true or start/end, not both' });
      }
      return;
    }
    if (w.start === undefined) ctx.addIssue({ code: 'custom', path: ['start'], message: 'missing required key "start" (or set allDay: true)' });
    if (w.end === undefined) ctx.addIssue({ code: 'custom', path: ['end'], message: 'missing required key "end" (or set allDay: true)' });
  })
  .transform((w) => {
    const start = w.allDay ? '00:00' : (w.start as string);
    const end = w.allDay ? '24:00' : (w.end as string);
    const window: { name?: string; days: Weekday[]; start: string; end: string; allDay: boolean } = {
      days: w.days,
      start,
      end,
      allDay: start === '00:00' && end === '24:00',
    };
    if (w.name !== undefined) window.name = w.name;
    return window;
  });

/** How changes for this client are planned and approved. */
export const changePolicySchema = z.strictObject({
  /**
   * Minimum time between submitting a change and its planned start: one duration for normal
   * changes, or per type ({ normal: 14d, standard: 2d }). Emergency changes have none.
   */
  leadTime: z.union([durationSchema, z.strictObject({ normal: durationSchema.optional(), standard: durationSchema.optional() })]).default('14d'),
  /** When the client must approve: always, high_risk (only high-risk changes) or never. */
  clientApproval: z.enum(CLIENT_APPROVAL_MODES).default('high_risk'),
  /** After a successful change the client's approvers confirm it works (IMP-03); the change closes only after they answered or the link expired. */
  clientValidation: z.boolean().default(false),
  /** How long before the planned start the client's contacts are notified. */
  notifyBefore: durationSchema.default('48h'),
});

/** The client's status page. */
export const statusPageSchema = z.strictObject({
  /** Publish the status page without login. */
  public: z.boolean().default(false),
  /** Page title (default: the client's name). */
  title: nonEmptyString.optional(),
  /** Logo shown on the page. */
  logoUrl: httpUrlSchema.optional(),
  ...statusPageOptions,
});

/** Branding of e-mails sent to the client. */
export const brandingSchema = z.strictObject({
  /** Name shown at the top of e-mails (default: the client's name). */
  name: nonEmptyString.optional(),
  /** Logo shown in e-mails. */
  logoUrl: httpUrlSchema.optional(),
  /** Signature appended to e-mails. */
  signature: nonEmptyString.optional(),
});

/** A client of the MSP. */
export const clientSchema = z.strictObject({
  /** Stable id (slug), used in alert labels (client=...) and URLs. */
  id: slugSchema,
  /** Display name. */
  name: nonEmptyString,
  /** IANA time zone for business hours, maintenance windows and SLA clocks. */
  timezone: timezoneSchema,
  /** People at the client. */
  contacts: z.array(contactSchema).default([]),
  /** E-mail of the staff user who manages the account. */
  accountManager: emailSchema,
  /** Contractual response / resolution targets per severity. */
  sla: slaSchema,
  /** Working hours; required when any SLA target uses hours: business. */
  businessHours: businessHoursSchema.optional(),
  /** Recurring windows in which alerts are expected and changes may be scheduled. */
  maintenanceWindows: z.array(maintenanceWindowSchema).default([]),
  /** Change-management rules. */
  changePolicy: changePolicySchema.prefault({}),
  /** Status page settings. */
  statusPage: statusPageSchema.prefault({}),
  /** E-mail branding. */
  branding: brandingSchema.optional(),
  /** Overrides of the global `communications` settings for this client (e.g. a contract's notification target). */
  communications: clientCommunicationsSchema.optional(),
  /** Overrides of the global `incidents` settings for this client. */
  incidents: clientIncidentPolicySchema.optional(),
});

/** A business service, as the client sees it (status pages, impact). */
export const serviceSchema = z.strictObject({
  /** Stable id (slug), unique across all clients. */
  id: slugSchema,
  /** Id of the client owning the service. */
  client: referenceSchema,
  /** Display name. */
  name: nonEmptyString,
  /** Short description for status pages. */
  description: z.string().default(''),
  /** Shown on the client's status page. */
  public: z.boolean().default(false),
  /** Group heading on the status page. */
  group: nonEmptyString.default('General'),
  /** Ids of the configuration items the service runs on (same client). */
  cis: z.array(referenceSchema).default([]),
});

/** A configuration item (server, database, network device, application, ...). */
export const configurationItemSchema = z.strictObject({
  /** Stable id, unique across all clients; dots allowed (e.g. "db-01.acme"). */
  id: ciIdSchema,
  /** Display name (default: the id). */
  name: nonEmptyString.optional(),
  /** Kind of item: server, database, network, application, storage, firewall, load_balancer, ... */
  type: nonEmptyString,
  /** Id of the client owning the item. */
  client: referenceSchema,
  /** Business criticality: low, medium, high or critical. */
  criticality: ciCriticalitySchema,
  /** production, staging or test. */
  environment: environmentSchema,
  /** Ids of CIs this item needs to work (no cycles). */
  dependsOn: z.array(referenceSchema).default([]),
  /** Free-form tags, e.g. "regulated:sox", "regulated:hipaa", "os:linux". */
  tags: z.array(nonEmptyString).default([]),
});

/** A team of MSP staff. */
export const teamSchema = z.strictObject({
  /** Stable id (slug). */
  id: slugSchema,
  /** Display name. */
  name: nonEmptyString,
  /** E-mail addresses of the staff users in the team. */
  members: z.array(emailSchema).default([]),
  /** The team's manager: approves members' changes where a rule requires `requester_manager` (CHG-06). */
  lead: emailSchema.optional(),
  /** Team mailbox. */
  email: emailSchema.optional(),
});

export const INTEGRATION_TOKEN_MESSAGE = 'integration tokens must be at least 16 characters; use ${ENV_VAR}';

/** An inbound webhook integration (alert source, change-event feed). */
export const integrationSchema = z.strictObject({
  /** Unique name (slug); the webhook URL is /api/integrations/<name>. */
  name: slugSchema,
  /** alertmanager, grafana, generic or change_events. */
  type: integrationTypeSchema,
  /** Shared secret the sender must present; keep it out of the file with ${ENV_VAR}. */
  token: z.string().min(16, { error: INTEGRATION_TOKEN_MESSAGE }),
  /** Client id used for alerts that carry no client label. */
  client: referenceSchema.optional(),
});

// ---------------------------------------------------------------------------
// Cross-reference checks
// ---------------------------------------------------------------------------

type Path = (string | number)[];
interface IssueSink {
  addIssue(issue: { code: 'custom'; path: Path; message: string }): void;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function renderIndexPath(section: string, index: number): string {
  return `${section}[${index}]`;
}

/**
 * Indexes `section[i][key]` values, reporting duplicates at the duplicate's path.
 * Returns id -> index of the first definition.
 */
function indexUnique(items: unknown[], section: string, key: string, what: string, ctx: IssueSink): Map<string, number> {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const id = asString(asRecord(item)?.[key]);
    if (id === undefined) return;
    const first = seen.get(id);
    if (first !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [section, i, key],
        message: `duplicate ${what} ${JSON.stringify(id)} (already defined at ${renderIndexPath(section, first)})`,
      });
    } else {
      seen.set(id, i);
    }
  });
  return seen;
}

/**
 * Root-level checks that need the whole file. Written defensively: it also runs
 * when other parts of the file failed validation (so every problem is reported
 * in one go), in which case values may have any shape.
 */
export function checkCrossReferences(root: unknown, ctx: IssueSink): void {
  const config = asRecord(root);
  if (!config) return;
  const clients = asArray(config.clients);
  const services = asArray(config.services);
  const cis = asArray(config.configurationItems);
  const teams = asArray(config.teams);
  const integrations = asArray(config.integrations);

  const clientIds = indexUnique(clients, 'clients', 'id', 'client id', ctx);
  indexUnique(services, 'services', 'id', 'service id', ctx);
  const ciIds = indexUnique(cis, 'configurationItems', 'id', 'configuration item id', ctx);
  indexUnique(teams, 'teams', 'id', 'team id', ctx);
  indexUnique(integrations, 'integrations', 'name', 'integration name', ctx);

  const knownClients = (): string => [...clientIds.keys()].join(', ') || '(none)';
  const checkClientRef = (value: unknown, path: Path): void => {
    const id = asString(value);
    if (id !== undefined && !clientIds.has(id)) {
      ctx.addIssue({ code: 'custom', path, message: `unknown client ${JSON.stringify(id)} (defined clients: ${knownClients()})` });
    }
  };

  // Per-client checks.
  clients.forEach((rawClient, ci) => {
    const client = asRecord(rawClient);
    if (!client) return;
    const emails = new Map<string, number>();
    asArray(client.contacts).forEach((rawContact, k) => {
      const email = asString(asRecord(rawContact)?.email);
      if (email === undefined) return;
      const key = email.toLowerCase();
      const first = emails.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', ci, 'contacts', k, 'email'],
          message: `duplicate contact email ${JSON.stringify(email)} (already used by clients[${ci}].contacts[${first}])`,
        });
      } else {
        emails.set(key, k);
      }
    });
    const sla = asRecord(client.sla);
    if (sla && client.businessHours === undefined) {
      for (const sev of SEVERITIES) {
        if (asRecord(sla[sev])?.hours === 'business') {
          ctx.addIssue({
            code: 'custom',
            path: ['clients', ci, 'sla', sev, 'hours'],
            message: `hours: business needs businessHours to be defined for client ${JSON.stringify(asString(client.id) ?? `#${ci}`)}`,
          });
        }
      }
    }
  });

  // Services -> clients, CIs.
  services.forEach((rawService, si) => {
    const service = asRecord(rawService);
    if (!service) return;
    checkClientRef(service.client, ['services', si, 'client']);
    const serviceClient = asString(service.client);
    asArray(service.cis).forEach((ref, k) => {
      const id = asString(ref);
      if (id === undefined) return;
      const target = ciIds.get(id);
      if (target === undefined) {
        ctx.addIssue({ code: 'custom', path: ['services', si, 'cis', k], message: `unknown configuration item ${JSON.stringify(id)}` });
        return;
      }
      const ciClient = asString(asRecord(cis[target])?.client);
      if (serviceClient !== undefined && clientIds.has(serviceClient) && ciClient !== undefined && ciClient !== serviceClient) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', si, 'cis', k],
          message: `configuration item ${JSON.stringify(id)} belongs to client ${JSON.stringify(ciClient)}, not ${JSON.stringify(serviceClient)}`,
        });
      }
    });
  });

  // CIs -> clients, CIs.
  const edges = new Map<number, Array<{ to: number; k: number }>>();
  cis.forEach((rawCi, i) => {
    const ci = asRecord(rawCi);
    if (!ci) return;
    checkClientRef(ci.client, ['configurationItems', i, 'client']);
    const own = asString(ci.id);
    // Only the first definition of an id takes part in the dependency graph.
    const isCanonical = own !== undefined && ciIds.get(own) === i;
    const out: Array<{ to: number; k: number }> = [];
    asArray(ci.dependsOn).forEach((ref, k) => {
      const id = asString(ref);
      if (id === undefined) return;
      const target = ciIds.get(id);
      if (target === undefined) {
        ctx.addIssue({ code: 'custom', path: ['configurationItems', i, 'dependsOn', k], message: `unknown configuration item ${JSON.stringify(id)}` });
        return;
      }
      if (isCanonical) out.push({ to: target, k });
    });
    if (isCanonical) edges.set(i, out);
  });

  // Dependency cycles: depth-first search in file order; each back edge is one cycle.
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Map<number, number>();
  const stack: number[] = [];
  const idOf = (i: number): string => asString(asRecord(cis[i])?.id) ?? `#${i}`;
  const visit = (node: number): void => {
    color.set(node, GREY);
    stack.push(node);
    for (const { to, k } of edges.get(node) ?? []) {
      const c = color.get(to) ?? WHITE;
      if (c === WHITE) {
        visit(to);
      } else if (c === GREY) {
        const cycle = stack.slice(stack.indexOf(to)).map(idOf);
        cycle.push(idOf(to));
        ctx.addIssue({ code: 'custom', path: ['configurationItems', node, 'dependsOn', k], message: `dependency cycle: ${cycle.join(' -> ')}` });
      }
    }
    stack.pop();
    color.set(node, BLACK);
  };
  for (const node of edges.keys()) {
    if ((color.get(node) ?? WHITE) === WHITE) visit(node);
  }

  // Routing rules -> clients, services, CIs.
  asArray(asRecord(config.routing)?.rules).forEach((rawRule, r) => {
    const set = asRecord(asRecord(rawRule)?.set);
    if (!set) return;
    if (set.client !== undefined) checkClientRef(set.client, ['routing', 'rules', r, 'set', 'client']);
    const service = asString(set.service);
    if (service !== undefined && !services.some((s) => asString(asRecord(s)?.id) === service)) {
      ctx.addIssue({ code: 'custom', path: ['routing', 'rules', r, 'set', 'service'], message: `unknown service ${JSON.stringify(service)}` });
    }
    const ci = asString(set.ci);
    if (ci !== undefined && !ciIds.has(ci)) {
      ctx.addIssue({ code: 'custom', path: ['routing', 'rules', r, 'set', 'ci'], message: `unknown configuration item ${JSON.stringify(ci)}` });
    }
  });

  // Escalation policies, tiers and rotations -> teams, rotations, clients, services.
  const teamIds = new Set(teams.map((team) => asString(asRecord(team)?.id)).filter(Boolean));
  const rotations = asArray(asRecord(config.oncall)?.rotations);
  const rotationIds = indexUnique(rotations, 'oncall.rotations', 'id', 'rotation id', ctx);
  /** Escalation and reminder targets name teams and rotations that must exist. */
  const checkNotifyTargets = (rawTargets: unknown, path: (string | number)[]) => {
    asArray(rawTargets).forEach((rawTarget, t) => {
      const target = asRecord(rawTarget);
      const team = asString(target?.team);
      if (team !== undefined && !teamIds.has(team)) ctx.addIssue({ code: 'custom', path: [...path, t, 'team'], message: `unknown team ${JSON.stringify(team)}` });
      const rotation = asString(target?.oncall);
      if (rotation !== undefined && !rotationIds.has(rotation)) ctx.addIssue({ code: 'custom', path: [...path, t, 'oncall'], message: `unknown on-call rotation ${JSON.stringify(rotation)}` });
    });
  };
  const policies = asArray(config.escalationPolicies);
  indexUnique(policies, 'escalationPolicies', 'id', 'escalation policy id', ctx);
  policies.forEach((rawPolicy, p) => {
    const policy = asRecord(rawPolicy);
    asArray(asRecord(policy?.match)?.clients).forEach((client, k) => checkClientRef(client, ['escalationPolicies', p, 'match', 'clients', k]));
    asArray(asRecord(policy?.match)?.services).forEach((service, k) => {
      const id = asString(service);
      if (id !== undefined && !services.some((s) => asString(asRecord(s)?.id) === id)) {
        ctx.addIssue({ code: 'custom', path: ['escalationPolicies', p, 'match', 'services', k], message: `unknown service ${JSON.stringify(id)}` });
      }
    });
    asArray(policy?.steps).forEach((rawStep, s) => checkNotifyTargets(asRecord(rawStep)?.notify, ['escalationPolicies', p, 'steps', s, 'notify']));
  });
  checkNotifyTargets(asRecord(config.communications)?.remind, ['communications', 'remind']);
  clients.forEach((rawClient, c) => checkNotifyTargets(asRecord(asRecord(rawClient)?.communications)?.remind, ['clients', c, 'communications', 'remind']));
  asArray(asRecord(config.escalation)?.tiers).forEach((tier, k) => {
    const id = asString(tier);
    if (id !== undefined && !teamIds.has(id)) ctx.addIssue({ code: 'custom', path: ['escalation', 'tiers', k], message: `unknown team ${JSON.stringify(id)}` });
  });

  // Integrations -> clients.
  integrations.forEach((rawIntegration, i) => {
    const integration = asRecord(rawIntegration);
    if (integration && integration.client !== undefined) checkClientRef(integration.client, ['integrations', i, 'client']);
  });

  // Freezes, standard changes, CAB and approval rules -> clients, CIs, teams.
  indexUnique(asArray(config.freezes), 'freezes', 'id', 'freeze id', ctx);
  indexUnique(asArray(config.standardChanges), 'standardChanges', 'id', 'standard change id', ctx);
  checkChangeReferences(config, { clients: new Set(clientIds.keys()), cis: new Set(ciIds.keys()), teams: teamIds as Set<string> }, ctx);
}

// ---------------------------------------------------------------------------
// Root
// ---------------------------------------------------------------------------

export const incidentdConfigSchema = z
  .strictObject({
    /**
     * The MSP's own IANA time zone: daily jobs (SLA digest, review action and access review
     * reminders) run at their "HH:MM" wall-clock time here, whatever zone the server or
     * container runs in. Clients have their own `timezone`.
     */
    timezone: timezoneSchema.default('UTC'),
    /** HTTP server settings (optional; defaults listen on 127.0.0.1:8080). */
    server: serverSchema.prefault({}),
    /** PostgreSQL settings (optional; default is an embedded server in ./data). */
    database: databaseSchema.prefault({}),
    /** Logging settings (optional; default level info). */
    logging: loggingSchema.prefault({}),
    /** The MSP's clients (at least one). */
    clients: z.array(clientSchema).min(1, { error: 'at least one client must be defined' }),
    /** Business services per client. */
    services: z.array(serviceSchema).default([]),
    /** Configuration items (CMDB) per client. */
    configurationItems: z.array(configurationItemSchema).default([]),
    /** Teams of MSP staff. */
    teams: z.array(teamSchema).default([]),
    /** Inbound webhook integrations. */
    integrations: z.array(integrationSchema).default([]),

    // Reserved: accepted (and not validated) now, defined by later features.
    /** Escalation policies (INC-08); see escalation-config-schema.ts. */
    escalationPolicies: z.array(escalationPolicySchema).default([]),
    /** Escalation settings: tiers, page combining, SLA warnings, daily digest. */
    escalation: escalationSettingsSchema.prefault({}),
    /** Alert routing: severity mapping and label rules (see incident-config-schema.ts). */
    routing: routingSchema.prefault({}),
    /** Severity x urgency -> priority P1..P5. */
    priorityMatrix: priorityMatrixSchema.default(DEFAULT_PRIORITY_MATRIX),
    /** Incident handling: re-open window, auto-resolve, recurring detection, security team. */
    incidents: incidentsSchema.prefault({}),
    /** Change <-> incident correlation: look-back, suspects kept, alerts held during changes. */
    correlation: correlationSchema.prefault({}),
    /** Change freezes, global or per client (SCH-03); see change-config-schema.ts. */
    freezes: z.array(freezeSchema).default([]),
    /** Catalog of pre-approved standard changes (CHG-10). */
    standardChanges: z.array(standardChangeSchema).default([]),
    /** Change advisory board and emergency CAB (CHG-08, CHG-09). */
    cab: cabSchema.prefault({}),
    /** Change approval rules and review policy (CHG-06, CHG-11, IMP-06). */
    changeApproval: changeApprovalSchema.prefault({}),
    /** Outgoing mail server; without it e-mails wait in the outbox (see communications-config-schema.ts). */
    smtp: smtpSchema.optional(),
    /** Client communications during Sev1/Sev2 incidents: first notice, update cadence, restoration (INC-09). */
    communications: communicationsSchema.prefault({}),
    /** Notification channels: outbound webhooks and delivery retries. */
    notifications: notificationsSchema.prefault({}),
    /** Periodic access review (ACC-01): admins are reminded when the last sign-off is older than `every`. */
    accessReview: z.strictObject({ every: durationSchema.default('90d') }).prefault({}),
    /** On-call rotations. */
    oncall: oncallSchema.prefault({}),
  })
  .superRefine((config, ctx) => checkCrossReferences(config, ctx), { when: () => true });

/** Parsed configuration, with defaults applied. */
export type IncidentdConfig = z.infer<typeof incidentdConfigSchema>;
/** Configuration as written in the file (before defaults). */
export type IncidentdConfigInput = z.input<typeof incidentdConfigSchema>;

export type ServerConfig = IncidentdConfig['server'];
export type DatabaseConfig = IncidentdConfig['database'];
export type LoggingConfig = IncidentdConfig['logging'];
export type ClientConfig = IncidentdConfig['clients'][number];
export type ContactConfig = ClientConfig['contacts'][number];
export type SlaConfig = ClientConfig['sla'];
export type SlaTarget = SlaConfig['sev1'];
export type BusinessHours = NonNullable<ClientConfig['businessHours']>;
export type MaintenanceWindow = ClientConfig['maintenanceWindows'][number];
export type ChangePolicy = ClientConfig['changePolicy'];
export type StatusPageConfig = ClientConfig['statusPage'];
export type ServiceConfig = IncidentdConfig['services'][number];
export type ConfigurationItemConfig = IncidentdConfig['configurationItems'][number];
export type TeamConfig = IncidentdConfig['teams'][number];
export type IntegrationConfig = IncidentdConfig['integrations'][number];
