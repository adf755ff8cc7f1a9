/**
 * Configuration of escalation, on-call rotations and notification channels (keys
 * `escalationPolicies`, `escalation`, `oncall`, `notifications`). Part of the
 * configuration reference, like config-schema.ts.
 */
import { z } from 'zod';
import { ROLES } from '../features/auth/roles';

const durationText = z.string().regex(/^(\d+[wdhms])+$/, 'expected a duration like 15m, 4h or 1h30m');
const slug = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected an id made of lowercase letters, digits and dashes');
const severity = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)], { error: 'expected a severity 1, 2, 3 or 4' });
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

/** Who an escalation step notifies. */
export const notifyTargetSchema = z.union(
  [
    /** Every member of a team (teams[].id). */
    z.strictObject({ team: z.string() }),
    /** One person, by email. */
    z.strictObject({ user: z.email() }),
    /** Whoever is on call now in a rotation (oncall.rotations[].id). */
    z.strictObject({ oncall: z.string() }),
    /** The incident's client's account manager (INC-10). */
    z.strictObject({ accountManager: z.literal(true) }),
    /** Every active user holding a role, e.g. incident_manager. */
    z.strictObject({ role: z.enum(ROLES) }),
  ],
  { error: 'expected one of { team }, { user }, { oncall }, { accountManager: true }, { role }' },
);
export type NotifyTarget = z.infer<typeof notifyTargetSchema>;

const stepSchema = z.strictObject({
  /** Delay after the previous step (the first step: after the incident was logged). */
  after: durationText.default('0m'),
  notify: z.array(notifyTargetSchema).min(1),
  /** Conditions; a step whose condition does not hold is skipped (and says so on the timeline). */
  when: z
    .strictObject({
      /** any | business (only inside the client's business hours) | outside_business */
      hours: z.enum(['any', 'business', 'outside_business']).default('any'),
      /** Only for incidents at least this severe (1 = only Sev1). */
      maxSeverity: severity.optional(),
    })
    .prefault({}),
});

export const escalationPolicySchema = z.strictObject({
  id: slug,
  name: z.string().optional(),
  /** Which incidents use it; the first policy that matches wins, one without `match` is the default. */
  match: z
    .strictObject({
      clients: z.array(z.string()).optional(),
      services: z.array(z.string()).optional(),
      severities: z.array(severity).optional(),
    })
    .optional(),
  steps: z.array(stepSchema).min(1),
  /** Run the steps again this many times while nobody acknowledges. */
  repeat: z.number().int().min(0).max(10).default(0),
});
export type EscalationPolicy = z.infer<typeof escalationPolicySchema>;

export const escalationSettingsSchema = z.strictObject({
  /** Technical escalation path (INC-08): teams (teams[].id) in order; "escalate" moves to the next. */
  tiers: z.array(z.string()).default([]),
  /** Pages to the same person within this window are combined into one (alert storms). */
  combineWindow: durationText.default('2m'),
  /** SLA warnings at these fractions of a target (INC-07). */
  slaWarnAt: z.array(z.number().gt(0).lt(1)).default([0.75, 0.9]),
  /** Time of day ("HH:MM" in the top-level `timezone`) of the daily SLA digest for incident managers; the review action and access review reminders go out then too. */
  dailyDigestAt: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM')
    .default('08:00'),
});

export const rotationSchema = z.strictObject({
  id: slug,
  name: z.string().optional(),
  timezone: z.string(),
  handoff: z.enum(['daily', 'weekly']),
  /** Local time of the hand-off. */
  handoffTime: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM').default('09:00'),
  /** Weekly rotations: the day of the hand-off. */
  handoffDay: weekday.optional(),
  /** Local date the first shift starts (members[0] first). */
  start: z.iso.date(),
  members: z.array(z.email()).min(1),
});

export const oncallSchema = z.strictObject({
  rotations: z.array(rotationSchema).default([]),
  /** iCalendar feeds of on-call shifts (per person, per rotation): how far back and ahead they reach. */
  calendarFeeds: z
    .strictObject({
      lookBack: durationText.default('30d'),
      lookAhead: durationText.default('90d'),
    })
    .prefault({}),
});

export const notificationsSchema = z.strictObject({
  /** Outbound webhooks (Slack/Teams-compatible JSON with a `text` field). */
  webhooks: z
    .array(
      z.strictObject({
        name: slug,
        url: z.url(),
        /** Which notification kinds go there (prefixes such as "escalation", "sla"); default all. */
        events: z.array(z.string()).optional(),
      }),
    )
    .default([]),
  /** Retry delivery for this long (exponential backoff), then give up into the dead-letter state. */
  giveUpAfter: durationText.default('24h'),
});
