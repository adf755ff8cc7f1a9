import { describe, expect, it } from 'vitest';
import { loadConfigOrThrow } from '../../src/config/load-config';
import { canDecideFor, describeGroup, requesterManager, requiredApprovals, segregationProblem } from '../../src/features/changes/change-approval-rules';
import { eligibilityProblems } from '../../src/features/changes/change-catalog';
import { assessRisk, dependentsOf, relatedCis } from '../../src/features/changes/change-risk';
import { missingFields, reviewRequired, transitionProblem, type ChangeFields } from '../../src/features/changes/change-rules';
import { insideMaintenanceWindows, leadTimeFor, pastWindowProblems, scheduleViolations, within, type ScheduleCheckInput } from '../../src/features/changes/change-scheduling';
import { EXAMPLE_CONFIG } from '../support/test-app';

const config = loadConfigOrThrow(EXAMPLE_CONFIG);
const client = (id: string) => config.clients.find((candidate) => candidate.id === id)!;
const ci = (id: string) => config.configurationItems.find((candidate) => candidate.id === id)!;

const blankChange: ChangeFields = { type: 'normal', title: 'Upgrade', description: '', justification: '', clientIds: [], serviceIds: [], ciIds: [], implementationPlan: '', testPlan: '', testResults: '', backoutPlan: '', windowStart: null, windowEnd: null, riskAnswers: null, outcome: null, implementers: [] };

describe('workflow state machine', () => {
  it('allows the ITIL path and re-submission after rejection, and explains refusals', () => {
    expect(transitionProblem('draft', 'submitted')).toBeNull();
    expect(transitionProblem('rejected', 'submitted')).toBeNull();
    expect(transitionProblem('completed', 'closed')).toBeNull();
    expect(transitionProblem('draft', 'in_progress')).toBe('cannot move a draft change to in_progress; allowed from draft: submitted, cancelled');
    expect(transitionProblem('closed', 'cancelled')).toContain('nothing (final state)');
    expect(transitionProblem('in_progress', 'cancelled')).not.toBeNull();
  });

  it('sends an approved or scheduled change back to its approvers, never one being implemented', () => {
    expect(transitionProblem('approved', 'awaiting_approval')).toBeNull();
    expect(transitionProblem('scheduled', 'awaiting_approval')).toBeNull();
    expect(transitionProblem('in_progress', 'awaiting_approval')).not.toBeNull();
    expect(transitionProblem('in_progress', 'scheduled')).not.toBeNull();
  });
});

describe('windows in the past and the approved window', () => {
  const now = new Date('2026-03-02T10:00:00Z');
  const at = (start: string, end: string) => ({ start: new Date(start), end: new Date(end) });

  it('refuses a window that began, naming the field, with a minute for clocks and travel', () => {
    expect(pastWindowProblems(at('2026-03-02T09:00:00Z', '2026-03-02T11:00:00Z'), now).map((p) => p.path)).toEqual(['window.start']);
    expect(pastWindowProblems(at('2026-03-02T09:59:30Z', '2026-03-02T11:00:00Z'), now)).toEqual([]);
    expect(pastWindowProblems(at('2026-03-02T09:59:30Z', '2026-03-02T09:59:50Z'), now).map((p) => p.path)).toEqual(['window.end']);
    expect(pastWindowProblems(at('2026-03-10T20:00:00Z', '2026-03-10T23:00:00Z'), now)).toEqual([]);
  });

  it('counts a narrower window inside the approved one as within it', () => {
    const approved = at('2026-03-10T20:00:00Z', '2026-03-10T23:00:00Z');
    expect(within(at('2026-03-10T21:00:00Z', '2026-03-10T22:00:00Z'), approved)).toBe(true);
    expect(within(approved, approved)).toBe(true);
    expect(within(at('2026-03-10T22:00:00Z', '2026-03-10T23:30:00Z'), approved)).toBe(false);
    expect(within(at('2026-03-11T20:00:00Z', '2026-03-11T23:00:00Z'), approved)).toBe(false);
  });
});

describe('required fields per type and step', () => {
  it('a normal change needs full documentation, a window and the risk questionnaire to be submitted', () => {
    expect(missingFields(blankChange, 'submit')).toEqual(['description', 'justification', 'clients', 'cis', 'implementationPlan', 'implementers', 'window', 'backoutPlan', 'testPlan', 'risk']);
  });
  it('an emergency change may be submitted on a short record but completes it at its review', () => {
    const emergency: ChangeFields = { ...blankChange, type: 'emergency', description: 'x', justification: 'outage', clientIds: ['northwind'], ciIds: ['nw-db-01'], implementationPlan: 'restart', implementers: ['a@b'] };
    expect(missingFields(emergency, 'submit')).toEqual([]);
    expect(missingFields(emergency, 'start')).toEqual([]);
    expect(missingFields(emergency, 'review')).toEqual(['backoutPlan', 'testPlan', 'testResults']);
  });
  it('a normal change cannot start without non-production test results, nor close without an outcome', () => {
    expect(missingFields(blankChange, 'start')).toEqual(['testResults']);
    expect(missingFields(blankChange, 'close')).toEqual(['outcome']);
  });
  it('requires a review for significant changes, or for all when configured', () => {
    const base = { type: 'normal' as const, riskLevel: 'low' as const, outcome: 'successful' as const, hasException: false };
    expect(reviewRequired(base, 'significant')).toBe(false);
    expect(reviewRequired({ ...base, outcome: 'failed' }, 'significant')).toBe(true);
    expect(reviewRequired({ ...base, type: 'emergency' }, 'significant')).toBe(true);
    expect(reviewRequired({ ...base, riskLevel: 'high' }, 'significant')).toBe(true);
    expect(reviewRequired({ ...base, hasException: true }, 'significant')).toBe(true);
    expect(reviewRequired(base, 'all')).toBe(true);
  });
});

describe('risk scoring', () => {
  it('shows each factor and classifies the total', () => {
    const low = assessRisk({ complexity: 'low', rollback: 'easy', testedInNonProduction: true }, { cis: [{ id: 'a', criticality: 'medium' }], dependentCount: 0, history: { completed: 4, failed: 0 } });
    expect(low).toMatchObject({ score: 1, level: 'low' });
    expect(low.factors.map((f) => f.factor)).toEqual(['CI criticality', 'number of CIs', 'dependent CIs', 'complexity', 'rollback feasibility', 'tested in non-production', 'past outcomes of similar changes']);
    const high = assessRisk({ complexity: 'high', rollback: 'impossible', testedInNonProduction: false }, { cis: [{ id: 'a', criticality: 'critical' }, { id: 'b', criticality: 'low' }], dependentCount: 5, history: { completed: 2, failed: 1 } });
    expect(high).toMatchObject({ score: 3 + 1 + 2 + 2 + 3 + 2 + 2, level: 'high' });
    expect(assessRisk({ complexity: 'medium', rollback: 'difficult', testedInNonProduction: true }, { cis: [{ id: 'a', criticality: 'high' }], dependentCount: 2, history: { completed: 0, failed: 0 } }).level).toBe('medium');
  });
  it('follows dependencies both ways', () => {
    expect(dependentsOf(['nw-db-01'], config.configurationItems).sort()).toEqual(['nw-pay-api-01', 'nw-pos-sync-01', 'nw-web-01', 'nw-web-02']);
    const related = relatedCis(['nw-web-01'], config.configurationItems);
    expect([...related].sort()).toEqual(['nw-db-01', 'nw-fw-01', 'nw-lb-01', 'nw-web-01']);
  });
});

describe('approval rules', () => {
  const subject = (cis: string[], clients: string[], riskLevel: 'low' | 'medium' | 'high', type: 'normal' | 'emergency' | 'standard' = 'normal') => ({ type, riskLevel, standardChangeId: 'windows-patching', cis: cis.map(ci), clients: clients.map(client), requesterManager: null as string | null });
  const groups = (s: ReturnType<typeof subject>) => requiredApprovals(s, config.changeApproval.rules).map((r) => r.group);

  it('picks approvers from type, risk, CI tags and types, and the client policy', () => {
    expect(groups(subject(['nw-web-01'], ['northwind'], 'low'))).toEqual(['change_manager']);
    expect(groups(subject(['nw-web-01'], ['northwind'], 'high'))).toEqual(['change_manager', 'cab', 'client:northwind']);
    expect(groups(subject(['gx-trade-db-01'], ['globex'], 'medium'))).toEqual(['change_manager', 'cab', 'team:security', 'team:database']);
    expect(groups(subject(['ah-fw-01'], ['acme-health'], 'low'))).toEqual(['change_manager', 'team:security', 'team:network', 'client:acme-health']);
    expect(groups(subject(['nw-db-01'], ['northwind'], 'high', 'emergency'))).toEqual(['ecab']);
    expect(groups(subject(['gx-dc-01'], ['globex'], 'low', 'standard'))).toEqual(['catalog']);
  });

  it("asks the requester's manager (their team's lead) where a rule says so, and the change manager when nobody leads the team (CHG-06)", () => {
    const rules = [{ name: 'big changes need the requester\'s manager', when: { risk: ['high' as const] }, require: ['requester_manager' as const] }];
    const teams = [{ id: 'web-ops', name: 'Web operations', members: ['req@x.example', 'lead@x.example'], lead: 'lead@x.example' }, { id: 'leads', name: 'Leads', members: ['lead@x.example'], lead: 'lead@x.example' }];
    expect(requesterManager({ teams }, 'REQ@x.example')).toBe('lead@x.example');
    expect(requesterManager({ teams }, 'lead@x.example')).toBeNull();
    expect(requiredApprovals({ ...subject(['nw-web-01'], [], 'high'), requesterManager: 'lead@x.example' }, rules).map((r) => r.group)).toEqual(['requester_manager:lead@x.example']);
    expect(requiredApprovals(subject(['nw-web-01'], [], 'high'), rules).map((r) => r.group)).toEqual(['change_manager']);
    expect(canDecideFor('requester_manager:lead@x.example', { email: 'LEAD@x.example', roles: ['tier2'], clientId: null }, config)).toBe(true);
    expect(canDecideFor('requester_manager:lead@x.example', { email: 'other@x.example', roles: ['change_manager'], clientId: null }, config)).toBe(false);
    expect(describeGroup('requester_manager:lead@x.example')).toBe("requester's manager (lead@x.example)");
  });

  it('says why each approval is needed', () => {
    const [security] = requiredApprovals(subject(['gx-report-01'], ['globex'], 'low'), config.changeApproval.rules).filter((r) => r.group === 'team:security');
    expect(security!.reason).toBe('rule "regulated systems pass a compliance review"');
  });

  it('lets only the group decide, and never the requester or an implementer', () => {
    expect(canDecideFor('team:security', { email: 'ravi.menon@precision.example', roles: ['tier3'], clientId: null }, config)).toBe(true);
    expect(canDecideFor('team:security', { email: 'grace.kim@precision.example', roles: ['change_manager'], clientId: null }, config)).toBe(false);
    expect(canDecideFor('client:globex', { email: 'lukas.brandt@globex.example', roles: ['client_contact'], clientId: 'globex' }, config)).toBe(true);
    expect(canDecideFor('client:globex', { email: 'anna.schneider@globex.example', roles: ['client_contact'], clientId: 'globex' }, config)).toBe(false);
    expect(canDecideFor('ecab', { email: 'paul.mensah@precision.example', roles: ['tier2'], clientId: null }, config)).toBe(true);
    expect(segregationProblem({ requesterEmail: 'A@x.example', implementers: ['b@x.example'] }, 'a@x.example')).toContain('requester');
    expect(segregationProblem({ requesterEmail: 'a@x.example', implementers: ['b@x.example'] }, 'B@x.example')).toContain('implementer');
    expect(segregationProblem({ requesterEmail: 'a@x.example', implementers: ['b@x.example'] }, 'c@x.example')).toBeNull();
  });
});

describe('maintenance windows in the client time zone', () => {
  const northwind = client('northwind');
  const inside = (start: string, end: string) => insideMaintenanceWindows(northwind.maintenanceWindows, northwind.timezone, { start: new Date(start), end: new Date(end) });

  it('accepts a weeknight window that crosses midnight, and refuses business hours', () => {
    expect(inside('2026-03-10T23:00:00Z', '2026-03-11T04:00:00Z')).toBe(true);
    expect(inside('2026-03-10T12:00:00Z', '2026-03-10T13:00:00Z')).toBe(false);
    expect(inside('2026-03-11T04:30:00Z', '2026-03-11T05:30:00Z')).toBe(false);
  });
  it('counts local time after the clocks change (BST: 19:00 London = 18:00 UTC)', () => {
    expect(inside('2026-04-07T18:00:00Z', '2026-04-07T19:00:00Z')).toBe(true);
    expect(inside('2026-03-10T18:00:00Z', '2026-03-10T19:00:00Z')).toBe(false);
  });
  it('joins Friday night to the all-day weekend, but Sunday night has no window of its own', () => {
    expect(inside('2026-03-13T22:00:00Z', '2026-03-15T23:00:00Z')).toBe(true);
    expect(inside('2026-03-15T22:00:00Z', '2026-03-16T02:00:00Z')).toBe(false);
  });
  it('uses the client zone: Globex 22:00 Berlin is 21:00 UTC in winter', () => {
    const globex = client('globex');
    expect(insideMaintenanceWindows(globex.maintenanceWindows, globex.timezone, { start: new Date('2026-03-10T21:00:00Z'), end: new Date('2026-03-10T23:00:00Z') })).toBe(true);
    expect(insideMaintenanceWindows(globex.maintenanceWindows, globex.timezone, { start: new Date('2026-03-10T20:30:00Z'), end: new Date('2026-03-10T23:00:00Z') })).toBe(false);
  });
});

describe('scheduling checks', () => {
  const base: ScheduleCheckInput = {
    type: 'normal',
    window: { start: new Date('2026-03-31T20:00:00Z'), end: new Date('2026-03-31T21:30:00Z') },
    submittedAt: new Date('2026-03-02T10:00:00Z'),
    clients: [client('globex')],
    freezes: config.freezes,
    relatedCiIds: relatedCis(['gx-report-01'], config.configurationItems),
    others: [],
  };

  it('names the freeze a window falls into, for the clients it covers only', () => {
    expect(scheduleViolations(base).map((v) => v.key)).toEqual(['freeze:globex-q1-close']);
    expect(scheduleViolations({ ...base, clients: [client('northwind')], window: { start: new Date('2026-03-31T20:00:00Z'), end: new Date('2026-03-31T21:30:00Z') } })).toEqual([]);
  });

  it('counts lead time from submission, per client, for normal changes only', () => {
    const soon = { ...base, window: { start: new Date('2026-03-04T21:00:00Z'), end: new Date('2026-03-04T22:00:00Z') } };
    expect(scheduleViolations(soon).map((v) => v.message)).toEqual(['Globex Capital needs 10d notice for normal changes; this change was submitted 2d 11h before its window']);
    expect(scheduleViolations({ ...soon, type: 'standard' })).toEqual([]);
  });

  it('takes a lead time per change type when the client policy gives one (SCH-02)', () => {
    const perType = { ...client('globex'), changePolicy: { ...client('globex').changePolicy, leadTime: { normal: '14d', standard: '3d' } } };
    const soon = { ...base, clients: [perType], window: { start: new Date('2026-03-04T21:00:00Z'), end: new Date('2026-03-04T22:00:00Z') } };
    expect(scheduleViolations({ ...soon, type: 'standard' }).map((v) => v.message)).toEqual(['Globex Capital needs 3d notice for standard changes; this change was submitted 2d 11h before its window']);
    expect(scheduleViolations({ ...soon, type: 'normal' }).map((v) => v.message)).toEqual(['Globex Capital needs 14d notice for normal changes; this change was submitted 2d 11h before its window']);
    expect(scheduleViolations({ ...soon, type: 'emergency' }).filter((v) => v.code === 'lead_time')).toEqual([]);
    expect(leadTimeFor('7d', 'standard')).toBeUndefined();
  });

  it('exempts emergency changes from windows and lead time, never from freezes', () => {
    const now = { ...base, type: 'emergency' as const, window: { start: new Date('2026-03-31T10:00:00Z'), end: new Date('2026-03-31T11:00:00Z') } };
    expect(scheduleViolations(now).map((v) => v.code)).toEqual(['freeze']);
  });

  it('finds overlapping changes on the same or dependent CIs', () => {
    const window = { start: new Date('2026-03-10T21:00:00Z'), end: new Date('2026-03-10T23:00:00Z') };
    const others = [
      { id: 'CHG-1', ciIds: ['gx-trade-db-02'], window: { start: new Date('2026-03-10T22:00:00Z'), end: new Date('2026-03-11T01:00:00Z') } },
      { id: 'CHG-2', ciIds: ['gx-exch-01'], window },
      { id: 'CHG-3', ciIds: ['gx-report-01'], window: { start: new Date('2026-03-10T23:00:00Z'), end: new Date('2026-03-11T01:00:00Z') } },
    ];
    expect(scheduleViolations({ ...base, submittedAt: new Date('2026-02-01T00:00:00Z'), window, others }).map((v) => v.key)).toEqual(['conflict:CHG-1']);
  });
});

describe('standard change eligibility', () => {
  const template = config.standardChanges.find((t) => t.id === 'windows-patching')!;
  const weekend = { start: new Date('2026-03-07T09:00:00Z'), end: new Date('2026-03-07T11:00:00Z') };
  const now = new Date('2026-03-02T10:00:00Z');
  it('pre-approves what stays inside the template', () => {
    expect(eligibilityProblems(template, { implementationPlan: template.procedure, window: weekend, riskLevel: 'low' }, [ci('gx-dc-01')], [client('globex')], now)).toEqual([]);
  });
  it('never pre-approves without a risk assessment to hold against the template', () => {
    expect(eligibilityProblems(template, { implementationPlan: template.procedure, window: weekend, riskLevel: null }, [ci('gx-dc-01')], [client('globex')], now)).toEqual(['no risk assessment to check against the template']);
  });
  it('lists everything outside it', () => {
    const problems = eligibilityProblems(template, { implementationPlan: 'my own way', window: { start: weekend.start, end: new Date('2026-03-07T15:00:00Z') }, riskLevel: 'medium' }, [ci('gx-dc-01'), ci('gx-trade-db-01')], [client('globex')], new Date('2026-09-01T00:00:00Z'));
    expect(problems).toEqual([
      'gx-trade-db-01 is not eligible for "windows-patching"',
      'the implementation plan differs from the documented procedure',
      "the window is longer than the template's 3h",
      "risk medium is above the template's low",
      'catalog entry "windows-patching" is overdue for its periodic review',
    ]);
  });
});
