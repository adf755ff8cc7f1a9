import { describe, expect, it } from 'vitest';
import { routeAlert } from '../../src/features/alert-intake/alert-routing';
import { loadConfigOrThrow, loadConfigText } from '../../src/config/load-config';
import { EXAMPLE_CONFIG } from '../support/test-app';

const config = loadConfigOrThrow(EXAMPLE_CONFIG, {});
const am = { name: 'alertmanager' };
const route = (labels: Record<string, string>, annotations: Record<string, string> = {}, integration: { name: string; client?: string } = am) =>
  routeAlert({ labels, annotations }, config, integration);

describe('alert routing', () => {
  it('routes by the conventional labels when they name known ids', () => {
    const routed = route({ alertname: 'PaymentsErrors', client: 'northwind', service: 'nw-payments', ci: 'nw-pay-api-01', severity: 'critical' }, { summary: 'Payments API 5xx above 5%' });
    expect(routed).toMatchObject({
      clientId: 'northwind',
      serviceIds: ['nw-payments'],
      ciIds: ['nw-pay-api-01'],
      severity: 1,
      urgency: 'high',
      priority: 'P1',
      category: 'other',
      title: 'Payments API 5xx above 5%',
      alertname: 'PaymentsErrors',
    });
  });

  it('finds the CI from the instance label and the client and services from the CI', () => {
    const routed = route({ alertname: 'NodeDown', instance: 'nw-db-01.northwind.example:9100', severity: 'warning' });
    expect(routed.clientId).toBe('northwind');
    expect(routed.ciIds).toEqual(['nw-db-01']);
    expect(routed.serviceIds.length).toBeGreaterThan(0);
    expect(routed.severity).toBe(3);
    expect(routed.priority).toBe('P4');
  });

  it('maps severity labels (critical, high, error, warning, info, 1-4, sev2) and falls back to the default', () => {
    expect(route({ severity: 'high', client: 'globex' }).severity).toBe(2);
    expect(route({ severity: 'ERROR', client: 'globex' }).severity).toBe(2);
    expect(route({ severity: 'info', client: 'globex' }).severity).toBe(4);
    expect(route({ severity: '1', client: 'globex' }).severity).toBe(1);
    expect(route({ severity: 'sev2', client: 'globex' }).severity).toBe(2);
    const unknown = route({ severity: 'apocalyptic', client: 'globex' });
    expect(unknown.severity).toBe(3);
    expect(unknown.notes).toContain('no usable severity label; default severity 3');
  });

  it('applies rules in order, continue lets later rules add to earlier ones', () => {
    const routed = route({ alertname: 'HighLatency', client: 'globex', service: 'gx-trading-portal', severity: 'warning' });
    expect(routed.category).toBe('performance_degradation');
    expect(routed.urgency).toBe('high');
    expect(routed.priority).toBe('P3');
    expect(routed.notes.filter((note) => note.startsWith('routing rule'))).toEqual([
      'routing rule "latency and saturation are performance problems" applied',
      'routing rule "Globex trading hours make the trading portal urgent" applied',
    ]);
  });

  it('matches regular expressions against the whole label value', () => {
    expect(route({ alertname: 'InterfaceDown', client: 'globex' }).category).toBe('network_outage');
    expect(route({ alertname: 'InterfaceDownAgain', client: 'globex' }).category).toBe('other');
  });

  it('sends an alert with no known client to the triage queue, saying why', () => {
    const routed = route({ alertname: 'Mystery', client: 'initech', severity: 'critical' });
    expect(routed.clientId).toBeNull();
    expect(routed.notes).toEqual(expect.arrayContaining(['unknown client "initech"', 'no known client: incident goes to the triage queue']));
    expect(routed.severity).toBe(1);
  });

  it('uses the integration default client only when the labels say nothing', () => {
    expect(route({ alertname: 'X' }, {}, { name: 'am-nw', client: 'northwind' }).clientId).toBe('northwind');
    expect(route({ alertname: 'X', client: 'globex' }, {}, { name: 'am-nw', client: 'northwind' }).clientId).toBe('globex');
  });

  it('never attaches another client\'s CI or service', () => {
    const routed = route({ alertname: 'X', client: 'globex', ci: 'nw-db-01', service: 'nw-webshop' });
    expect(routed.clientId).toBe('globex');
    expect(routed.ciIds).toEqual([]);
    expect(routed.serviceIds).toEqual([]);
    expect(routed.notes).toEqual(expect.arrayContaining(['configuration item "nw-db-01" belongs to another client; ignored']));
  });
});

describe('instance matching', () => {
  it('does not guess when two configuration items share a name', () => {
    const text = [
      'clients:',
      ...['alpha', 'beta'].flatMap((id) => [
        `  - id: ${id}`,
        `    name: ${id}`,
        '    timezone: UTC',
        '    accountManager: am@msp.example',
        '    sla: { sev1: { respond: 15m, resolve: 4h }, sev2: { respond: 30m, resolve: 8h }, sev3: { respond: 4h, resolve: 3d }, sev4: { respond: 1d, resolve: 10d } }',
      ]),
      'configurationItems:',
      '  - { id: alpha-db, name: db, type: database, client: alpha, criticality: high, environment: production }',
      '  - { id: beta-db, name: db, type: database, client: beta, criticality: high, environment: production }',
      '',
    ].join('\n');
    const result = loadConfigText(text, 'inline.yaml', {});
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const ambiguous = routeAlert({ labels: { alertname: 'Down', instance: 'db:5432' }, annotations: {} }, result.config, am);
    expect(ambiguous.clientId).toBeNull();
    expect(ambiguous.ciIds).toEqual([]);
    const exact = routeAlert({ labels: { alertname: 'Down', instance: 'beta-db:5432' }, annotations: {} }, result.config, am);
    expect(exact).toMatchObject({ clientId: 'beta', ciIds: ['beta-db'] });
  });
});
