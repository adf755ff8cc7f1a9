/**
 * Pure change rules (CHG-02, CHG-03, IMP-02, IMP-04, IMP-06): the workflow state machine and
 * the fields each type needs at each step. No database or HTTP here.
 */
import type { ChangeType, RiskLevel } from '../../config/change-config-schema';

export { CHANGE_TYPES, RISK_LEVELS, type ChangeType, type RiskLevel } from '../../config/change-config-schema';

export const CHANGE_STATES = [
  'draft',
  'submitted',
  'assessment',
  'awaiting_approval',
  'approved',
  'rejected',
  'deferred',
  'scheduled',
  'in_progress',
  'validating',
  'completed',
  'reviewed',
  'closed',
  'cancelled',
] as const;
export type ChangeState = (typeof CHANGE_STATES)[number];

export const OUTCOMES = ['successful', 'successful_with_issues', 'failed', 'backed_out'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * Where each state may go. Rejected and deferred changes go back to submitted (rework); an
 * approved or scheduled change moved out of the window it was approved for goes back to
 * awaiting approval (the approvers approved a different plan).
 */
const TRANSITIONS: Record<ChangeState, readonly ChangeState[]> = {
  draft: ['submitted', 'cancelled'],
  submitted: ['assessment', 'awaiting_approval', 'approved', 'cancelled'],
  assessment: ['awaiting_approval', 'cancelled'],
  awaiting_approval: ['approved', 'rejected', 'deferred', 'cancelled'],
  approved: ['scheduled', 'awaiting_approval', 'cancelled'],
  rejected: ['submitted', 'cancelled'],
  deferred: ['submitted', 'cancelled'],
  scheduled: ['scheduled', 'awaiting_approval', 'in_progress', 'cancelled'],
  in_progress: ['validating', 'completed'],
  validating: ['completed'],
  completed: ['reviewed', 'closed'],
  reviewed: ['closed'],
  closed: [],
  cancelled: [],
};

export function allowedTransitions(from: ChangeState): readonly ChangeState[] {
  return TRANSITIONS[from];
}

/** Null when allowed, else why not (the 409 message). */
export function transitionProblem(from: ChangeState, to: ChangeState): string | null {
  if (TRANSITIONS[from].includes(to)) return null;
  const allowed = TRANSITIONS[from];
  return `cannot move a ${from} change to ${to}; allowed from ${from}: ${allowed.length ? allowed.join(', ') : 'nothing (final state)'}`;
}

/**
 * Changes that may be edited with PATCH: drafts, and rejected or deferred changes being
 * reworked for re-submission (which runs the submit checks again). Once submitted, the
 * record the assessment and approvals look at is fixed.
 */
export const EDITABLE_STATES: readonly ChangeState[] = ['draft', 'rejected', 'deferred'];

/** Changes that hold their window: another change overlapping them on related CIs conflicts (SCH-04). */
export const WINDOW_HOLDING_STATES: readonly ChangeState[] = ['scheduled', 'in_progress', 'validating'];

/** Implementation has started (or is over): the window can no longer be moved. */
export const IMPLEMENTATION_STARTED_STATES: readonly ChangeState[] = ['in_progress', 'validating', 'completed', 'reviewed', 'closed'];

/** Changes on the forward schedule (SCH-05) and the status pages' maintenance: holding their window, or done in it. */
export const ON_SCHEDULE_STATES: readonly ChangeState[] = [...WINDOW_HOLDING_STATES, 'completed', 'reviewed', 'closed'];

export function formatChangeId(number: number): string {
  return `CHG-${number}`;
}

export function parseChangeId(text: string): number | undefined {
  const match = /^(?:CHG-)?(\d{1,9})$/i.exec(text.trim());
  return match ? Number(match[1]) : undefined;
}

/** The parts of an RFC that required-field rules look at. */
export interface ChangeFields {
  type: ChangeType;
  title: string;
  description: string;
  justification: string;
  clientIds: string[];
  serviceIds: string[];
  ciIds: string[];
  implementationPlan: string;
  testPlan: string;
  testResults: string;
  backoutPlan: string;
  windowStart: Date | null;
  windowEnd: Date | null;
  riskAnswers: unknown;
  outcome: string | null;
  implementers: string[];
}

export type Step = 'submit' | 'start' | 'review' | 'close';

const blank = (text: string) => text.trim().length === 0;

/**
 * Every field missing for a step, by API name (so a 400 can list them all). Normal and
 * standard changes need full documentation and a window to be submitted (normal and
 * standard ones the risk questionnaire too), a normal change non-production test results
 * before it starts; an emergency change may start on a short record, but its review (the
 * retrospective) needs the documentation completed.
 */
export function missingFields(change: ChangeFields, step: Step): string[] {
  const missing: string[] = [];
  const need = (field: string, absent: boolean) => absent && missing.push(field);
  const fullDocumentation = () => {
    need('backoutPlan', blank(change.backoutPlan));
    need('testPlan', blank(change.testPlan));
  };
  if (step === 'submit') {
    need('title', blank(change.title));
    need('description', blank(change.description));
    need('justification', blank(change.justification));
    need('clients', change.clientIds.length === 0);
    need('cis', change.ciIds.length === 0 && change.serviceIds.length === 0);
    need('implementationPlan', blank(change.implementationPlan));
    need('implementers', change.implementers.length === 0);
    if (change.type !== 'emergency') {
      need('window', !change.windowStart || !change.windowEnd);
      fullDocumentation();
    }
    // A standard change is scored too: its template's risk ceiling must always be checked (CHG-10).
    if (change.type === 'normal' || change.type === 'standard') need('risk', change.riskAnswers == null);
  }
  if (step === 'start' && change.type === 'normal') need('testResults', blank(change.testResults));
  if (step === 'review' && change.type === 'emergency') {
    fullDocumentation();
    need('testResults', blank(change.testResults));
  }
  if (step === 'close') need('outcome', !change.outcome);
  return missing;
}

/** Whether a post-implementation review is required (IMP-06, CHG-08, CHG-12). */
export function reviewRequired(change: { type: ChangeType; riskLevel: RiskLevel | null; outcome: Outcome | null; hasException: boolean }, policy: 'significant' | 'all'): boolean {
  if (policy === 'all') return true;
  return change.type === 'emergency' || change.riskLevel === 'high' || change.outcome === 'failed' || change.outcome === 'backed_out' || change.hasException;
}
