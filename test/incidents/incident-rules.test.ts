import { describe, expect, it } from 'vitest';
import { checkTransition, DEFAULT_PRIORITY_MATRIX, formatIncidentId, parseIncidentId, priorityFor } from '../../src/features/incidents/incident-rules';

describe('priority = severity x urgency (INC-04)', () => {
  it.each([
    [1, 'high', 'P1'],
    [1, 'low', 'P3'],
    [2, 'high', 'P2'],
    [3, 'medium', 'P4'],
    [4, 'low', 'P5'],
  ] as const)('Sev%i with %s urgency is %s', (severity, urgency, priority) => {
    expect(priorityFor(severity, urgency)).toBe(priority);
  });

  it('uses the configured matrix', () => {
    const matrix = { ...DEFAULT_PRIORITY_MATRIX, sev3: { high: 'P2', medium: 'P3', low: 'P4' } } as const;
    expect(priorityFor(3, 'high', matrix)).toBe('P2');
  });
});

describe('lifecycle (INC-05)', () => {
  const ok = { hasClient: true };
  it('allows working forward and re-opening a resolved incident with a reason', () => {
    expect(checkTransition('new', 'triaged', ok)).toEqual({ ok: true });
    expect(checkTransition('investigating', 'mitigated', ok)).toEqual({ ok: true });
    expect(checkTransition('mitigated', 'resolved', { ...ok, resolutionSummary: 'restarted the pool' })).toEqual({ ok: true });
    expect(checkTransition('resolved', 'investigating', { ...ok, reason: 'still broken' })).toEqual({ ok: true });
    expect(checkTransition('resolved', 'closed', ok)).toEqual({ ok: true });
  });

  it('refuses illegal moves with the reason and the allowed moves', () => {
    expect(checkTransition('closed', 'investigating', ok)).toEqual({ ok: false, reason: 'cannot move from closed to investigating; allowed: none (final state)' });
    expect(checkTransition('new', 'closed', ok)).toMatchObject({ ok: false, reason: expect.stringContaining('allowed: triaged, investigating, mitigated, resolved, cancelled') });
    expect(checkTransition('investigating', 'investigating', ok)).toEqual({ ok: false, reason: 'the incident is already investigating' });
  });

  it('requires a resolution summary, a cancel reason, a re-open reason and a known client for triage', () => {
    expect(checkTransition('investigating', 'resolved', ok)).toMatchObject({ ok: false, reason: expect.stringContaining('resolution summary') });
    expect(checkTransition('investigating', 'resolved', { ...ok, resolutionSummary: '   ' })).toMatchObject({ ok: false });
    expect(checkTransition('new', 'cancelled', ok)).toMatchObject({ ok: false, reason: expect.stringContaining('reason') });
    expect(checkTransition('resolved', 'investigating', ok)).toMatchObject({ ok: false, reason: 're-opening needs a reason' });
    expect(checkTransition('new', 'triaged', { hasClient: false })).toMatchObject({ ok: false, reason: expect.stringContaining('client is known') });
  });
});

describe('incident ids', () => {
  it('reads INC-1042, inc-1042 and 1042, and nothing else', () => {
    expect(formatIncidentId(1042)).toBe('INC-1042');
    expect(parseIncidentId('INC-1042')).toBe(1042);
    expect(parseIncidentId('inc-1042')).toBe(1042);
    expect(parseIncidentId('1042')).toBe(1042);
    expect(parseIncidentId('CHG-1042')).toBeUndefined();
    expect(parseIncidentId('1042; drop table')).toBeUndefined();
  });
});
