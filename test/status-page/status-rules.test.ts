import { describe, expect, it } from 'vitest';
import { publicStatusOf } from '../../src/features/incidents/incident-rules';
import { componentStatus, impactOfSeverity, maintenanceStatusAt, overallStatus, uptime, worstStatus } from '../../src/features/status-page/status-rules';
import { DateTime } from 'luxon';
import { dayName } from '../../src/features/status-page/status-views';

const H = 3_600_000;
const day = (date: string, start: number) => ({ date, start, end: start + 24 * H });

describe('status rules', () => {
  it('ranks outages above maintenance above operational, and lets an override win', () => {
    expect(worstStatus(['operational', 'under_maintenance', 'degraded_performance'])).toBe('degraded_performance');
    expect(worstStatus(['under_maintenance', 'operational'])).toBe('under_maintenance');
    expect(componentStatus({ override: null, incidentStatuses: ['partial_outage'], inMaintenance: true })).toBe('partial_outage');
    expect(componentStatus({ override: null, incidentStatuses: [], inMaintenance: true })).toBe('under_maintenance');
    expect(componentStatus({ override: 'operational', incidentStatuses: ['major_outage'], inMaintenance: false })).toBe('operational');
  });

  it('sums the page up with Statuspage indicators', () => {
    expect(overallStatus([])).toEqual({ indicator: 'none', description: 'All Systems Operational' });
    expect(overallStatus(['operational', 'partial_outage', 'degraded_performance']).indicator).toBe('major');
    expect(overallStatus(['major_outage']).indicator).toBe('critical');
    expect(overallStatus(['under_maintenance']).indicator).toBe('maintenance');
  });

  it('tells the public what each lifecycle state means', () => {
    expect(['new', 'triaged', 'investigating', 'mitigated', 'resolved', 'closed'].map((state) => publicStatusOf(state as never))).toEqual([
      'investigating', 'investigating', 'investigating', 'monitoring', 'resolved', 'resolved',
    ]);
    expect([1, 2, 3, 4].map(impactOfSeverity)).toEqual(['critical', 'major', 'minor', 'none']);
  });

  it('starts and ends maintenance by the clock', () => {
    const window = { start: new Date('2026-03-02T22:00:00Z'), end: new Date('2026-03-03T01:00:00Z') };
    expect(maintenanceStatusAt(window, new Date('2026-03-02T21:59:59Z'))).toBe('scheduled');
    expect(maintenanceStatusAt(window, new Date('2026-03-02T22:00:00Z'))).toBe('in_progress');
    expect(maintenanceStatusAt(window, new Date('2026-03-03T01:00:00Z'))).toBe('completed');
  });

  it('colours each day by its worst status, counts overlaps once, weights partial outages and leaves maintenance out', () => {
    const d1 = 0;
    const d2 = 24 * H;
    const result = uptime(
      [
        { start: d1 + 1 * H, end: d1 + 3 * H, status: 'major_outage' },
        // Overlaps the major outage for an hour: that hour counts as major only.
        { start: d1 + 2 * H, end: d1 + 4 * H, status: 'partial_outage' },
        { start: d2 + 10 * H, end: d2 + 14 * H, status: 'under_maintenance' },
        // An outage across midnight counts on both days.
        { start: d2 + 23 * H, end: d2 + 25 * H, status: 'degraded_performance' },
      ],
      [day('2026-03-01', d1), day('2026-03-02', d2), day('2026-03-03', d2 + 24 * H)],
      { partialOutageWeight: 0.3, excludeMaintenance: true },
    );
    expect(result.days.map((d) => d.status)).toEqual(['major_outage', 'degraded_performance', 'degraded_performance']);
    expect(result.days[0]!.durations).toEqual({ major_outage: 2 * H, partial_outage: 1 * H });
    expect(result.days[1]!.durations).toEqual({ under_maintenance: 4 * H, degraded_performance: 1 * H });
    // Down: 2 h major + 0.3 x 1 h partial, out of 72 h minus 4 h of maintenance.
    expect(result.percent).toBe(Math.floor(10_000 * (1 - 2.3 / 68)) / 100);
    const counted = uptime([{ start: 0, end: 4 * H, status: 'under_maintenance' }], [day('2026-03-01', 0)], { partialOutageWeight: 0.3, excludeMaintenance: false });
    expect(counted.percent).toBe(100);
    expect(uptime([], [day('2026-03-01', 0)], { partialOutageWeight: 0.3, excludeMaintenance: true })).toEqual({ days: [{ date: '2026-03-01', status: 'operational', durations: {} }], percent: 100 });
  });
});

describe('uptime bar day names', () => {
  it('read as luxon\'s English "d LLL yyyy" for every day of a year and more', () => {
    for (let day = DateTime.fromISO('2026-01-01'); day.year < 2028; day = day.plus({ days: 1 })) {
      expect(dayName(day.toISODate()!)).toBe(day.setLocale('en').toFormat('d LLL yyyy'));
    }
  });
});
