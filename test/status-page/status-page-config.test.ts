import { describe, expect, it } from 'vitest';
import { statusPageSchema } from '../../src/config/config-schema';

describe('status page configuration', () => {
  it('defaults to Sev1 major, Sev2 partial, Sev3 degraded, Sev4 nothing, and uptime without maintenance time', () => {
    expect(statusPageSchema.parse({ public: true })).toEqual({
      public: true,
      componentStatusBySeverity: { sev1: 'major_outage', sev2: 'partial_outage', sev3: 'degraded_performance', sev4: 'operational' },
      uptime: { excludeMaintenance: true, partialOutageWeight: 0.3 },
      subscriptions: true,
    });
  });

  it('accepts another mapping and refuses unknown keys and statuses', () => {
    expect(statusPageSchema.parse({ componentStatusBySeverity: { sev2: 'major_outage' } }).componentStatusBySeverity.sev2).toBe('major_outage');
    expect(statusPageSchema.safeParse({ componentStatusBySeverity: { sev2: 'down' } }).success).toBe(false);
    expect(statusPageSchema.safeParse({ uptime: { excludeMaintenance: true, window: '30d' } }).success).toBe(false);
    expect(statusPageSchema.safeParse({ uptime: { partialOutageWeight: 2 } }).success).toBe(false);
  });
});
