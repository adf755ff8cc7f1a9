/**
 * Configuration of change management (keys `freezes`, `standardChanges`, `cab`,
 * `changeApproval`). Part of the configuration reference, like config-schema.ts.
 * Cross references (clients, CIs, teams) are checked by `checkChangeReferences`, which the
 * root schema runs with the other cross-reference checks.
 */
import { z } from 'zod';

const durationText = z.string().regex(/^(\d+[wdhms])+$/, 'expected a duration like 15m, 4h or 1h30m');
const slug = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'expected an id made of lowercase letters, digits and dashes');
const instant = z.iso.datetime({ offset: true, error: 'expected a date-time with offset, like 2026-03-27T18:00:00+00:00' });

export const CHANGE_TYPES = ['standard', 'normal', 'emergency'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];
export const RISK_LEVELS = ['low', 'medium', 'high'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** A period in which no change may be implemented without a documented exception (SCH-03). */
export const freezeSchema = z
  .strictObject({
    /** Stable id (slug), named in the 409 answer when a change falls into it. */
    id: slug,
    /** Shown to people, e.g. "Quarter-end financial close". */
    name: z.string().min(1),
    /** First instant of the freeze (date-time with offset). */
    start: instant,
    /** End of the freeze (exclusive). */
    end: instant,
    /** Clients it applies to; omitted = every client (a global freeze). */
    clients: z.array(z.string()).optional(),
    /** Why, for the change manager and the audit trail. */
    reason: z.string().default(''),
  })
  .refine((freeze) => Date.parse(freeze.end) > Date.parse(freeze.start), { error: 'a freeze must end after it starts', path: ['end'] });
export type FreezeConfig = z.infer<typeof freezeSchema>;

/** A pre-authorized, recurring change with a documented procedure (CHG-02, CHG-10). */
export const standardChangeSchema = z.strictObject({
  /** Stable id (slug), given as `standardChange` when raising an RFC from the catalog. */
  id: slug,
  name: z.string().min(1),
  description: z.string().default(''),
  /** The documented procedure; becomes the RFC's implementation plan. Changing it makes the RFC a normal change. */
  procedure: z.string().min(1),
  backoutPlan: z.string().min(1),
  testPlan: z.string().default('Run the checks listed in the procedure.'),
  /** Which CIs the template may be used on: every affected CI must match one of the criteria. */
  eligible: z
    .strictObject({
      /** CI ids. */
      cis: z.array(z.string()).default([]),
      /** CI types, e.g. server, database. */
      ciTypes: z.array(z.string()).default([]),
      /** CI tags, e.g. os:windows; a trailing * matches a prefix. */
      ciTags: z.array(z.string()).default([]),
    })
    .prefault({}),
  /** Longest window the template may book. */
  maxDuration: durationText.default('4h'),
  /** The window must lie inside the client's maintenance windows. */
  insideMaintenanceWindow: z.boolean().default(true),
  /** Highest risk the questionnaire may give; anything riskier is a normal change. */
  maxRisk: z.enum(RISK_LEVELS).default('low'),
  /** When the catalog entry was last reviewed (YYYY-MM-DD), and how often it must be (CHG-10). */
  lastReviewed: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date like 2026-01-15').optional(),
  reviewEvery: durationText.default('180d'),
});
export type StandardChangeConfig = z.infer<typeof standardChangeSchema>;

/** The change advisory board (CHG-08, CHG-09). */
export const cabSchema = z.strictObject({
  /** Team whose members sit on the CAB (teams[].id); members decide with the cab_member role. */
  team: z.string().optional(),
  /** Emergency CAB: who approves emergency changes, and how fast. */
  ecab: z
    .strictObject({
      /** Staff e-mails of the emergency approvers. */
      members: z.array(z.email()).default([]),
      /** An emergency change waiting longer than this for a decision is escalated. */
      responseTarget: durationText.default('1h'),
      /** Who is told when the target is missed (e-mails); the change managers' team is always told. */
      escalateTo: z.array(z.email()).default([]),
    })
    .prefault({}),
});
export type CabConfig = z.infer<typeof cabSchema>;

/** An approver group a rule can require. */
export const approverSchema = z.union(
  [
    z.literal('change_manager'),
    z.literal('cab'),
    /** The lead of the requester's team (teams[].lead). */
    z.literal('requester_manager'),
    /** The client's `approver` contacts. */
    z.literal('client'),
    /** Members of a team, as subject-matter specialists (security, database, network). */
    z.strictObject({ team: z.string() }),
  ],
  { error: 'expected change_manager, cab, requester_manager, client or { team: <team id> }' },
);
export type ApproverConfig = z.infer<typeof approverSchema>;

const approvalRuleSchema = z.strictObject({
  name: z.string().min(1),
  /** Every condition given must hold; none given = every change. */
  when: z
    .strictObject({
      types: z.array(z.enum(CHANGE_TYPES)).optional(),
      risk: z.array(z.enum(RISK_LEVELS)).optional(),
      /** Any affected CI carries one of these tags; a trailing * matches a prefix (regulated:*). */
      ciTags: z.array(z.string()).optional(),
      /** Any affected CI is of one of these types. */
      ciTypes: z.array(z.string()).optional(),
      /** Any affected client is one of these. */
      clients: z.array(z.string()).optional(),
    })
    .prefault({}),
  require: z.array(approverSchema).min(1),
});
export type ApprovalRuleConfig = z.infer<typeof approvalRuleSchema>;

/** Who must approve which change (CHG-04, CHG-06, CHG-11), and what is reviewed afterwards. */
export const changeApprovalSchema = z.strictObject({
  rules: z
    .array(approvalRuleSchema)
    .default([{ name: 'normal changes need the change manager', when: { types: ['normal'] }, require: ['change_manager'] }]),
  /** Post-implementation review: for significant changes (failed, emergency, high risk, with an exception) or for all. */
  reviewRequired: z.enum(['significant', 'all']).default('significant'),
  /** Deploy events on CIs in these environments must name an approved RFC, else they are unauthorized changes (REL-02). */
  rfcRequiredFor: z.strictObject({ environments: z.array(z.enum(['production', 'staging', 'test'])).default(['production']) }).prefault({}),
  /** How long an e-mailed client approval link stays valid. */
  clientLinkValidity: durationText.default('14d'),
});
export type ChangeApprovalConfig = z.infer<typeof changeApprovalSchema>;

type Path = (string | number)[];
interface IssueSink {
  addIssue(issue: { code: 'custom'; path: Path; message: string }): void;
}
type Loose = Record<string, unknown> | undefined;
const record = (value: unknown): Loose => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/**
 * Change-management references to clients, CIs and teams. Defensive like the root check:
 * it runs on files that failed validation elsewhere, so values may have any shape.
 */
export function checkChangeReferences(config: Record<string, unknown>, known: { clients: Set<string>; cis: Set<string>; teams: Set<string> }, ctx: IssueSink): void {
  const check = (value: unknown, set: Set<string>, what: string, path: Path) => {
    if (typeof value === 'string' && !set.has(value)) ctx.addIssue({ code: 'custom', path, message: `unknown ${what} ${JSON.stringify(value)}` });
  };
  list(config.freezes).forEach((freeze, f) => list(record(freeze)?.clients).forEach((client, k) => check(client, known.clients, 'client', ['freezes', f, 'clients', k])));
  list(config.standardChanges).forEach((template, s) =>
    list(record(record(template)?.eligible)?.cis).forEach((ci, k) => check(ci, known.cis, 'configuration item', ['standardChanges', s, 'eligible', 'cis', k])),
  );
  const cab = record(config.cab);
  if (cab) check(cab.team, known.teams, 'team', ['cab', 'team']);
  list(record(config.changeApproval)?.rules).forEach((rule, r) => {
    list(record(record(rule)?.when)?.clients).forEach((client, k) => check(client, known.clients, 'client', ['changeApproval', 'rules', r, 'when', 'clients', k]));
    list(record(rule)?.require).forEach((approver, k) => check(record(approver)?.team, known.teams, 'team', ['changeApproval', 'rules', r, 'require', k, 'team']));
  });
}
