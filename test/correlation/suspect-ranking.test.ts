import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMPLEMENTED_STATES, rankSuspects, rfcCandidate, type CandidateChange, type Topology } from '../../src/features/correlation/suspect-ranking';

const FIXTURES = path.join(__dirname, '../fixtures/correlation');
const LOOK_BACK_MS = 72 * 3_600_000;

interface Scenario {
  name: string;
  why: string;
  client: string;
  cis: { id: string; dependsOn: string[] }[];
  services: { id: string; cis: string[] }[];
  incident: { firstAlertAt: string; cis: string[]; services: string[] };
  changes: ({ id: string; kind: 'rfc'; client: string; cis: string[]; services: string[]; risk: string; state: string; outcome: string | null; start: string | null; end: string | null; windowStart: string; windowEnd: string } | { id: string; kind: 'deploy'; client: string; cis: string[]; services: string[]; time: string; authorized: boolean; summary: string })[];
  expected: string | null;
}

const scenarios = readdirSync(FIXTURES)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({ file, scenario: JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Scenario }));

/**
 * The scenario's changes as change management and deploy events would give them: an RFC by
 * its state (a scheduled one was never worked on), with its planned end, read by the same
 * rule the service applies to its records.
 */
function candidates(scenario: Scenario): CandidateChange[] {
  return scenario.changes.flatMap((change) => {
    if (change.kind === 'deploy') return [{ id: change.id, kind: 'deploy' as const, clientIds: [change.client], serviceIds: change.services, ciIds: change.cis, start: new Date(change.time), end: new Date(change.time), unauthorized: !change.authorized, label: change.summary }];
    const candidate = rfcCandidate({
      id: change.id,
      state: change.state,
      clientIds: [change.client],
      serviceIds: change.services,
      ciIds: change.cis,
      riskLevel: change.risk,
      outcome: change.outcome,
      actualStart: change.start ? new Date(change.start) : null,
      actualEnd: change.end ? new Date(change.end) : null,
      windowEnd: new Date(change.windowEnd),
    });
    return candidate ? [candidate] : [];
  });
}

function rank(scenario: Scenario) {
  const cis = new Map(scenario.cis.map((ci) => [ci.id, ci.dependsOn]));
  const topology: Topology = { dependsOn: (ci) => cis.get(ci) ?? [], servicesOf: (ci) => scenario.services.filter((service) => service.cis.includes(ci)).map((service) => service.id) };
  return rankSuspects(
    { clientId: scenario.client, ciIds: scenario.incident.cis, serviceIds: scenario.incident.services, firstAlertAt: new Date(scenario.incident.firstAlertAt) },
    candidates(scenario),
    topology,
    { lookBackMs: LOOK_BACK_MS, allCiIds: [...cis.keys()] },
  );
}

describe('suspect ranking on the scenario set (test/fixtures/correlation, written without seeing the scorer)', () => {
  it('has at least 30 scenarios', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(30);
  });

  it('puts the true cause first in at least 90% of cases and in the top 3 in all; shows no suspect when no change of the client is in the look-back', () => {
    const results = scenarios.map(({ file, scenario }) => {
      const ranked = rank(scenario);
      const position = scenario.expected ? ranked.findIndex((suspect) => suspect.changeId === scenario.expected) + 1 : 0;
      return { file, expected: scenario.expected, top: ranked.slice(0, 3).map((suspect) => `${suspect.changeId} ${suspect.score}`), position, suspects: ranked.length };
    });
    const withCause = results.filter((result) => result.expected);
    const top1 = withCause.filter((result) => result.position === 1).length;
    const top3 = withCause.filter((result) => result.position >= 1 && result.position <= 3).length;
    // The figures for the closing note, and the misses to look at.
    console.log(`correlation scenarios: ${results.length}; with a cause: ${withCause.length}; top-1 ${top1}/${withCause.length} (${((100 * top1) / withCause.length).toFixed(1)}%); top-3 ${top3}/${withCause.length}`);
    for (const miss of withCause.filter((result) => result.position !== 1)) console.log(`  not first: ${miss.file}: expected ${miss.expected} at ${miss.position || 'none'}; top ${miss.top.join(', ')}`);
    expect(top1 / withCause.length).toBeGreaterThanOrEqual(0.9);
    expect(top3).toBe(withCause.length);
    // No suspect for an incident with no change of its client in the look-back, counted
    // from the fixture data itself (not from the scorer).
    const first = (scenario: Scenario) => new Date(scenario.incident.firstAlertAt).getTime();
    const inLookBack = (scenario: Scenario) =>
      scenario.changes.some((change) => {
        if (change.client !== scenario.client) return false;
        const start = change.kind === 'deploy' ? change.time : change.start;
        const end = change.kind === 'deploy' ? change.time : change.end;
        return start !== null && new Date(start).getTime() <= first(scenario) && (end === null || new Date(end).getTime() >= first(scenario) - LOOK_BACK_MS);
      });
    const quiet = scenarios.filter(({ scenario }) => !inLookBack(scenario));
    expect(quiet.length).toBeGreaterThanOrEqual(3);
    for (const { file, scenario } of quiet) expect(rank(scenario), file).toEqual([]);
    for (const result of results.filter((candidate) => !candidate.expected && candidate.suspects > 0)) console.log(`  no cause expected, suspects shown: ${result.file}: ${result.top.join(', ')}`);
  });

  it('does not treat a change left "in progress" long after its window as happening now', () => {
    const topology: Topology = { dependsOn: () => [], servicesOf: () => [] };
    const first = new Date('2026-03-02T10:00:00Z');
    const stale: CandidateChange = { id: 'CHG-1', kind: 'rfc', clientIds: ['acme'], serviceIds: [], ciIds: ['db-01'], riskLevel: 'high', outcome: null, start: new Date('2026-01-30T10:00:00Z'), end: null, plannedEnd: new Date('2026-01-30T12:00:00Z') };
    const recent: CandidateChange = { id: 'CHG-2', kind: 'rfc', clientIds: ['acme'], serviceIds: [], ciIds: ['db-01'], riskLevel: 'low', outcome: 'successful', start: new Date('2026-03-02T09:40:00Z'), end: new Date('2026-03-02T09:50:00Z') };
    const scope = { clientId: 'acme', serviceIds: [], ciIds: ['db-01'], firstAlertAt: first };
    expect(rankSuspects(scope, [stale, recent], topology, { lookBackMs: LOOK_BACK_MS, allCiIds: ['db-01'] }).map((suspect) => suspect.changeId)).toEqual(['CHG-2']);
    const lateButOpen = { ...stale, plannedEnd: new Date('2026-03-01T10:00:00Z') };
    const [suspect] = rankSuspects(scope, [lateButOpen], topology, { lookBackMs: LOOK_BACK_MS, allCiIds: ['db-01'] });
    expect(suspect).toMatchObject({ windowOpen: false, minutesBefore: 24 * 60 });
    expect(suspect!.reason).toBe('CHG-1 still open but its window ended 24 h before the first alert on db-01, the same CI; risk high');
  });

  it('reads each RFC by its state, as the service reads change records: only worked-on RFCs are candidates, in-progress ones until their planned end', () => {
    const rfcs = scenarios.flatMap(({ scenario }) => scenario.changes.flatMap((change) => (change.kind === 'rfc' ? [{ change, candidate: candidates(scenario).find((candidate) => candidate.id === change.id) }] : [])));
    // The set has RFCs that were never started (scheduled ones): the check below bites.
    expect(rfcs.filter(({ change }) => !IMPLEMENTED_STATES.includes(change.state)).length).toBeGreaterThan(0);
    for (const { change, candidate } of rfcs) {
      if (!IMPLEMENTED_STATES.includes(change.state)) expect(candidate, change.id).toBeUndefined();
      else expect(candidate, change.id).toMatchObject({ start: new Date(change.start!), end: change.end ? new Date(change.end) : null, plannedEnd: new Date(change.windowEnd) });
    }
  });

  it('explains each suspect in one line and is deterministic', () => {
    const { scenario } = scenarios[0]!;
    const first = rank(scenario);
    expect(rank(scenario)).toEqual(first);
    for (const suspect of first) expect(suspect.reason).toMatch(/before the first alert (on|for) /);
  });
});
