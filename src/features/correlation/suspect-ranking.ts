/**
 * Ranking of suspect changes for an incident (REL-01, REL-04): pure, deterministic and
 * explained. No database here, so the rule is tested on its own against a scenario set
 * (test/fixtures/correlation/).
 *
 * score = topology x recency x risk x outcome (each 0..1), times 100:
 * - topology: the same CI 1.0; a CI the incident's CI depends on (upstream) 0.75 at one
 *   hop, less per further hop; a CI that depends on it (downstream) 0.5; the same service
 *   0.45; only the same client 0.15. Another client's change is never a suspect.
 * - recency: how long before the first alert the change took effect (its end, or its start
 *   while in progress; a deploy's time), decaying over the look-back (half of the weight
 *   lost after a sixth of it); a window still open at the first alert counts as "now".
 *   Changes that took effect after the first alert, or before the look-back, are out.
 * - risk: high 1.0, medium 0.85, low 0.7; deploys 0.85 (0.95 without an approved RFC).
 * - outcome: failed / backed out 1.0, successful with issues 0.95, still running 0.95,
 *   successful 0.8.
 */

export type SuspectKind = 'rfc' | 'deploy';
export type Relation = 'same_ci' | 'upstream' | 'downstream' | 'same_service' | 'same_client';

export interface CandidateChange {
  /** CHG-2031, or DEP-<event id> for a deploy event. */
  id: string;
  kind: SuspectKind;
  clientIds: string[];
  serviceIds: string[];
  ciIds: string[];
  riskLevel?: string | null;
  outcome?: string | null;
  /** When it started (RFC: actual start; deploy: its time). Null if it never started. */
  start: Date | null;
  /** When it ended; null while in progress. Deploys end when they start. */
  end: Date | null;
  /** The planned end of its window: a change left "in progress" long after it is only as recent as this. */
  plannedEnd?: Date | null;
  /** Deploys without an approved RFC. */
  unauthorized?: boolean;
  /** Words for the reason: a deploy's summary. */
  label?: string;
}

export interface IncidentScope {
  clientId: string | null;
  serviceIds: string[];
  ciIds: string[];
  firstAlertAt: Date;
}

export interface Topology {
  /** CIs this CI depends on (directly). */
  dependsOn(ciId: string): readonly string[];
  /** Services a CI belongs to. */
  servicesOf(ciId: string): readonly string[];
}

export interface Suspect {
  changeId: string;
  kind: SuspectKind;
  score: number;
  relation: Relation;
  /** The incident's CI or service the change is linked through, and the change's own. */
  via: { incident: string | null; change: string | null };
  minutesBefore: number;
  windowOpen: boolean;
  reason: string;
}

/**
 * RFC states in which work was done on the change: only these can have caused something.
 * A scheduled (or approved, cancelled, ...) RFC has touched nothing, even with its window open.
 */
export const IMPLEMENTED_STATES: readonly string[] = ['in_progress', 'validating', 'completed', 'reviewed', 'closed'];

/** What change management records of an RFC, as far as ranking is concerned. */
export interface RfcRecord {
  id: string;
  state: string;
  clientIds: string[];
  serviceIds: string[];
  ciIds: string[];
  riskLevel: string | null;
  outcome: string | null;
  actualStart: Date | null;
  actualEnd: Date | null;
  completedAt?: Date | null;
  windowEnd: Date | null;
}

/**
 * The candidate an RFC makes, or null when its state says no work was done on it. One
 * reading for the service and the scenario set: an in-progress RFC runs until its planned
 * end, a finished one ended when the implementer said so.
 */
export function rfcCandidate(rfc: RfcRecord): CandidateChange | null {
  if (!IMPLEMENTED_STATES.includes(rfc.state) || !rfc.actualStart) return null;
  return {
    id: rfc.id,
    kind: 'rfc',
    clientIds: rfc.clientIds,
    serviceIds: rfc.serviceIds,
    ciIds: rfc.ciIds,
    riskLevel: rfc.riskLevel,
    outcome: rfc.outcome,
    start: rfc.actualStart,
    end: rfc.actualEnd ?? rfc.completedAt ?? null,
    plannedEnd: rfc.windowEnd,
  };
}

const TOPOLOGY: Record<Relation, number> = { same_ci: 1, upstream: 0.75, downstream: 0.5, same_service: 0.45, same_client: 0.15 };
const RISK: Record<string, number> = { high: 1, medium: 0.85, low: 0.7 };
const OUTCOME: Record<string, number> = { failed: 1, backed_out: 1, successful_with_issues: 0.95, successful: 0.8 };
const MAX_HOPS = 4;

/** CIs reachable from `from` following `next`, with their distance (1 = direct). */
function reach(from: string, next: (ci: string) => readonly string[]): Map<string, number> {
  const distance = new Map<string, number>();
  let frontier = [from];
  for (let hop = 1; hop <= MAX_HOPS && frontier.length; hop += 1) {
    const following: string[] = [];
    for (const ci of frontier) {
      for (const neighbour of next(ci)) {
        if (neighbour === from || distance.has(neighbour)) continue;
        distance.set(neighbour, hop);
        following.push(neighbour);
      }
    }
    frontier = following;
  }
  return distance;
}

interface Link {
  relation: Relation;
  weight: number;
  via: { incident: string | null; change: string | null };
  hops: number;
}

/** The closest topological link between the incident and the change, if any. */
function linkOf(scope: IncidentScope, change: CandidateChange, topology: Topology, dependents: (ci: string) => readonly string[]): Link | null {
  const links: Link[] = [];
  for (const ci of scope.ciIds) {
    if (change.ciIds.includes(ci)) links.push({ relation: 'same_ci', weight: TOPOLOGY.same_ci, via: { incident: ci, change: ci }, hops: 0 });
    const upstream = reach(ci, (id) => topology.dependsOn(id));
    const downstream = reach(ci, dependents);
    for (const changed of change.ciIds) {
      const up = upstream.get(changed);
      if (up !== undefined) links.push({ relation: 'upstream', weight: TOPOLOGY.upstream * 0.8 ** (up - 1), via: { incident: ci, change: changed }, hops: up });
      const down = downstream.get(changed);
      if (down !== undefined) links.push({ relation: 'downstream', weight: TOPOLOGY.downstream * 0.8 ** (down - 1), via: { incident: ci, change: changed }, hops: down });
    }
  }
  const incidentServices = new Set([...scope.serviceIds, ...scope.ciIds.flatMap((ci) => topology.servicesOf(ci))]);
  const changeServices = new Set([...change.serviceIds, ...change.ciIds.flatMap((ci) => topology.servicesOf(ci))]);
  const shared = [...incidentServices].find((service) => changeServices.has(service));
  if (shared) links.push({ relation: 'same_service', weight: TOPOLOGY.same_service, via: { incident: shared, change: shared }, hops: 0 });
  if (links.length === 0 && scope.clientId && change.clientIds.includes(scope.clientId)) links.push({ relation: 'same_client', weight: TOPOLOGY.same_client, via: { incident: null, change: null }, hops: 0 });
  return links.sort((a, b) => b.weight - a.weight)[0] ?? null;
}

function describeLink(link: Link): string {
  switch (link.relation) {
    case 'same_ci':
      return `on ${link.via.change}, the same CI`;
    case 'upstream':
      return `on ${link.via.change}, which ${link.via.incident} depends on${link.hops > 1 ? ` (${link.hops} hops)` : ''}`;
    case 'downstream':
      return `on ${link.via.change}, which depends on ${link.via.incident}${link.hops > 1 ? ` (${link.hops} hops)` : ''}`;
    case 'same_service':
      return `on the same service (${link.via.change})`;
    case 'same_client':
      return 'for the same client (no shared CI or service)';
  }
}

function minutesText(minutes: number): string {
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.round(minutes / 6) / 10;
  return `${hours} h`;
}

/** Every change linked to the incident within the look-back, best first. */
export function rankSuspects(scope: IncidentScope, candidates: CandidateChange[], topology: Topology, options: { lookBackMs: number; allCiIds: readonly string[] }): Suspect[] {
  const dependentsIndex = new Map<string, string[]>();
  for (const ci of options.allCiIds) for (const upstream of topology.dependsOn(ci)) dependentsIndex.set(upstream, [...(dependentsIndex.get(upstream) ?? []), ci]);
  const dependents = (ci: string) => dependentsIndex.get(ci) ?? [];
  const first = scope.firstAlertAt.getTime();
  const suspects: Suspect[] = [];

  for (const change of candidates) {
    if (!scope.clientId || !change.clientIds.includes(scope.clientId)) continue; // clients are isolated
    if (!change.start || change.start.getTime() > first) continue; // not started before the first alert
    // Still running at the first alert: as recent as can be, unless its planned window had
    // ended long before (a change nobody closed is not "in progress" for ever).
    const lastTouched = change.end ?? (change.plannedEnd && change.plannedEnd.getTime() < first ? change.plannedEnd : null);
    const windowOpen = lastTouched === null || lastTouched.getTime() > first;
    const effective = windowOpen ? first : lastTouched!.getTime();
    const before = first - effective;
    if (before > options.lookBackMs) continue;
    const link = linkOf(scope, change, topology, dependents);
    if (!link) continue;
    const recency = 2 ** (-before / (options.lookBackMs / 6));
    const risk = change.kind === 'deploy' ? (change.unauthorized ? 0.95 : 0.85) : RISK[change.riskLevel ?? ''] ?? 0.8;
    const outcome = windowOpen ? 0.95 : change.kind === 'deploy' ? 0.9 : OUTCOME[change.outcome ?? ''] ?? 0.9;
    const score = Math.round(link.weight * recency * risk * outcome * 1000) / 10;
    const minutes = Math.round((first - (windowOpen ? change.start.getTime() : lastTouched!.getTime())) / 60_000);
    const what = change.kind === 'deploy' ? `deploy${change.label ? ` "${change.label}"` : ''}` : change.id;
    const finished = change.kind === 'deploy' ? 'deployed' : change.end ? 'completed' : 'still open but its window ended';
    const when = windowOpen ? `in progress, started ${minutesText(minutes)} before the first alert` : `${finished} ${minutesText(minutes)} before the first alert`;
    const details = [
      change.kind === 'rfc' && change.riskLevel ? `risk ${change.riskLevel}` : null,
      change.kind === 'rfc' && change.outcome ? `outcome ${change.outcome}` : null,
      change.unauthorized ? 'no approved RFC (unauthorized)' : null,
    ].filter(Boolean);
    suspects.push({
      changeId: change.id,
      kind: change.kind,
      score,
      relation: link.relation,
      via: link.via,
      minutesBefore: minutes,
      windowOpen,
      reason: `${what} ${when} ${describeLink(link)}${details.length ? `; ${details.join('; ')}` : ''}`,
    });
  }
  return suspects.sort((a, b) => b.score - a.score || a.minutesBefore - b.minutesBefore || a.changeId.localeCompare(b.changeId));
}
