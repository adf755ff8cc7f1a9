/**
 * Pure incident rules (INC-03, INC-04, INC-05): categories, severity, urgency, priority
 * and the lifecycle state machine. No database or HTTP here, so every rule is unit-tested
 * on its own.
 */

export const CATEGORIES = ['hardware_failure', 'software_bug', 'network_outage', 'performance_degradation', 'security', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

/** Severity 1 (critical) .. 4 (low), as in MSP-INC 3.3. */
export const SEVERITY_LEVELS = [1, 2, 3, 4] as const;
export type Severity = (typeof SEVERITY_LEVELS)[number];

export const URGENCIES = ['high', 'medium', 'low'] as const;
export type Urgency = (typeof URGENCIES)[number];

export const PRIORITIES = ['P1', 'P2', 'P3', 'P4', 'P5'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** How an incident came to be known (INC-01, INC-02). */
export const SOURCES = ['monitoring', 'phone', 'email', 'portal', 'staff'] as const;
export type Source = (typeof SOURCES)[number];

export type PriorityMatrix = Record<`sev${Severity}`, Record<Urgency, Priority>>;

/** Impact (severity) x urgency, the usual ITIL shape; overridable in config `priorityMatrix`. */
export const DEFAULT_PRIORITY_MATRIX: PriorityMatrix = {
  sev1: { high: 'P1', medium: 'P2', low: 'P3' },
  sev2: { high: 'P2', medium: 'P3', low: 'P4' },
  sev3: { high: 'P3', medium: 'P4', low: 'P5' },
  sev4: { high: 'P4', medium: 'P5', low: 'P5' },
};

/** Urgency when nothing says otherwise: a Sev1 is as urgent as it gets, a Sev4 can wait. */
export const DEFAULT_URGENCY_BY_SEVERITY: Record<`sev${Severity}`, Urgency> = { sev1: 'high', sev2: 'high', sev3: 'medium', sev4: 'low' };

export function priorityFor(severity: Severity, urgency: Urgency, matrix: PriorityMatrix = DEFAULT_PRIORITY_MATRIX): Priority {
  return matrix[`sev${severity}`][urgency];
}

export function isSeverity(value: unknown): value is Severity {
  return value === 1 || value === 2 || value === 3 || value === 4;
}

// ---------------------------------------------------------------------------
// Lifecycle (INC-05)
// ---------------------------------------------------------------------------

export const INCIDENT_STATES = ['new', 'triaged', 'investigating', 'mitigated', 'resolved', 'closed', 'cancelled'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

/** States in which the incident still needs work; alerts attach to these. */
export const OPEN_STATES: readonly IncidentState[] = ['new', 'triaged', 'investigating', 'mitigated'];

export function isOpen(state: IncidentState): boolean {
  return OPEN_STATES.includes(state);
}

/**
 * Allowed moves. Work may skip ahead (a service desk agent can resolve a simple incident
 * without passing through every state), but never backwards except re-opening a resolved
 * incident. Closed and cancelled are final.
 */
const TRANSITIONS: Record<IncidentState, readonly IncidentState[]> = {
  new: ['triaged', 'investigating', 'mitigated', 'resolved', 'cancelled'],
  triaged: ['investigating', 'mitigated', 'resolved', 'cancelled'],
  investigating: ['mitigated', 'resolved', 'cancelled'],
  mitigated: ['investigating', 'resolved', 'cancelled'],
  resolved: ['investigating', 'closed'],
  closed: [],
  cancelled: [],
};

export interface TransitionInput {
  resolutionSummary?: string | null;
  reason?: string | null;
  /** Set when the incident is being triaged: both must be known. */
  hasClient: boolean;
}

export type TransitionCheck = { ok: true } | { ok: false; reason: string };

export function checkTransition(from: IncidentState, to: IncidentState, input: TransitionInput): TransitionCheck {
  if (from === to) return { ok: false, reason: `the incident is already ${to}` };
  if (!TRANSITIONS[from].includes(to)) {
    const allowed = TRANSITIONS[from];
    return { ok: false, reason: `cannot move from ${from} to ${to}; allowed: ${allowed.length ? allowed.join(', ') : 'none (final state)'}` };
  }
  if (to === 'triaged' && !input.hasClient) return { ok: false, reason: 'an incident can only be triaged once its client is known' };
  if (to === 'resolved' && !input.resolutionSummary?.trim()) return { ok: false, reason: 'resolving needs a resolution summary (what fixed it)' };
  if (to === 'cancelled' && !input.reason?.trim()) return { ok: false, reason: 'cancelling needs a reason (e.g. false positive)' };
  if (from === 'resolved' && to === 'investigating' && !input.reason?.trim()) return { ok: false, reason: 're-opening needs a reason' };
  return { ok: true };
}

export function allowedTransitions(from: IncidentState): readonly IncidentState[] {
  return TRANSITIONS[from];
}

/** The status a public update gives the client (Atlassian Statuspage's incident statuses). */
export const PUBLIC_STATUSES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type PublicStatus = (typeof PUBLIC_STATUSES)[number];

/** The public status an update has when staff did not choose one: read from the incident's state. */
export function publicStatusOf(state: IncidentState): PublicStatus {
  if (state === 'mitigated') return 'monitoring';
  if (state === 'resolved' || state === 'closed') return 'resolved';
  return 'investigating';
}

/** `INC-1042` <-> 1042. */
export function formatIncidentId(number: number): string {
  return `INC-${number}`;
}

export function parseIncidentId(text: string): number | undefined {
  const match = /^(?:INC-)?(\d{1,9})$/i.exec(text.trim());
  return match ? Number(match[1]) : undefined;
}
