/**
 * Configuration of alert routing and incident handling (keys `routing`,
 * `priorityMatrix`, `incidents`). Part of the configuration reference, like
 * config-schema.ts.
 */
import { z } from 'zod';
import {
  CATEGORIES,
  DEFAULT_PRIORITY_MATRIX,
  DEFAULT_URGENCY_BY_SEVERITY,
  PRIORITIES,
  URGENCIES,
} from '../features/incidents/incident-rules';

const severitySchema = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)], {
  error: 'expected a severity 1, 2, 3 or 4',
});
const urgencySchema = z.enum(URGENCIES);
const prioritySchema = z.enum(PRIORITIES);
const durationText = z.string().regex(/^(\d+[wdhms])+$/, 'expected a duration like 15m, 4h or 1h30m');

const regexSchema = z.string().refine(
  (source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  },
  { error: 'not a valid regular expression' },
);

/** One routing rule: when every matcher matches, `set` overrides what the labels said. */
const routingRuleSchema = z.strictObject({
  /** For people and for the incident timeline ("routed by rule ..."). */
  name: z.string().optional(),
  /** Exact label matches, e.g. { alertname: DiskFull, env: prod }. */
  match: z.record(z.string(), z.string()).default({}),
  /** Regular-expression label matches (anchored), e.g. { instance: "nw-.*" }. */
  matchRe: z.record(z.string(), regexSchema).default({}),
  /** What to set: a client id, service id, CI id, severity 1-4, urgency, category. */
  set: z
    .strictObject({
      client: z.string().optional(),
      service: z.string().optional(),
      ci: z.string().optional(),
      severity: severitySchema.optional(),
      urgency: urgencySchema.optional(),
      category: z.enum(CATEGORIES).optional(),
    })
    .default({}),
  /** Keep evaluating later rules after this one matched (default: stop). */
  continue: z.boolean().default(false),
});

export const DEFAULT_SEVERITY_MAP: Record<string, 1 | 2 | 3 | 4> = {
  critical: 1,
  sev1: 1,
  high: 2,
  error: 2,
  major: 2,
  sev2: 2,
  warning: 3,
  warn: 3,
  minor: 3,
  sev3: 3,
  info: 4,
  informational: 4,
  low: 4,
  sev4: 4,
};

export const routingSchema = z.strictObject({
  /** Value of the `severity` label (case-insensitive) -> severity 1-4. Replaces the defaults when given. */
  severityMap: z.record(z.string(), severitySchema).default(DEFAULT_SEVERITY_MAP),
  /** Severity when the alert says nothing usable. */
  defaultSeverity: severitySchema.default(3),
  /** Urgency when the alert has no `urgency` label, per severity. */
  urgencyBySeverity: z
    .strictObject({ sev1: urgencySchema, sev2: urgencySchema, sev3: urgencySchema, sev4: urgencySchema })
    .default(DEFAULT_URGENCY_BY_SEVERITY),
  /** Evaluated in order; the first match wins unless it says `continue: true`. */
  rules: z.array(routingRuleSchema).default([]),
});

const priorityRowSchema = z.strictObject({ high: prioritySchema, medium: prioritySchema, low: prioritySchema });
/** Severity x urgency -> P1..P5 (INC-04). */
export const priorityMatrixSchema = z.strictObject({
  sev1: priorityRowSchema,
  sev2: priorityRowSchema,
  sev3: priorityRowSchema,
  sev4: priorityRowSchema,
});

export const incidentsSchema = z.strictObject({
  /** A resolved incident whose alert fires again within this time is re-opened instead of a new one. */
  reopenWindow: durationText.default('1h'),
  /** A resolved incident nobody objected to within this time is closed (INC-05: "validation window expired"). */
  validationWindow: durationText.default('3d'),
  /** When every alert of an incident has cleared: true = resolve it ("alerts cleared"), false = only flag it. */
  autoResolveOnClear: z.boolean().default(true),
  /** The same client + service + alert (or CI) this many times within `window` is flagged recurring (INC-12). */
  recurring: z.strictObject({ count: z.number().int().min(2).default(3), window: durationText.default('30d') }).prefault({}),
  /** Team (teams[].id) that sees security incidents (INC-14), besides admins. */
  securityTeam: z.string().default('security'),
});

/** Change <-> incident correlation (REL-01). */
export const correlationSchema = z.strictObject({
  /** Changes that took effect this long before an incident's first alert are suspects. */
  lookBack: durationText.default('72h'),
  /** How many suspects an incident keeps (best first). */
  maxSuspects: z.number().int().min(1).max(20).default(5),
  /**
   * Alerts on the CIs of an in-progress change are expected: nobody is paged, SLA clocks wait
   * and the client is not told until the change ends (completed, failed or backed out);
   * alerts still firing then make a normal incident.
   */
  holdDuringChanges: z.boolean().default(true),
  /**
   * A change still in progress when its window ends (an overrun, IMP-01) keeps its alerts held
   * this much longer, while its implementers finish or back out; then they page as a normal
   * incident. 0s releases them when the window ends.
   */
  overrunGrace: durationText.default('30m'),
});

/** Per-client overrides of `incidents`. */
export const clientIncidentPolicySchema = z.strictObject({
  autoResolveOnClear: z.boolean().optional(),
});

export type RoutingConfig = z.infer<typeof routingSchema>;
export type RoutingRule = RoutingConfig['rules'][number];
export type IncidentsConfig = z.infer<typeof incidentsSchema>;
