import { describe, expect, it } from 'vitest';
import {
  CI_CRITICALITIES,
  ENVIRONMENTS,
  INTEGRATION_TYPES,
  ROLES,
  SEVERITIES,
  WEEKDAYS,
  incidentdConfigSchema,
  type IncidentdConfigInput,
} from '../../src/config/config-schema';
import { communicationsFor } from '../../src/config/communications-config-schema';
import { loadConfigText } from '../../src/config/load-config';

const sla = {
  sev1: { respond: '15m', resolve: '4h' },
  sev2: { respond: '30m', resolve: '8h' },
  sev3: { respond: '4h', resolve: '3d' },
  sev4: { respond: '1d', resolve: '10d' },
};

function client(id: string, extra: Record<string, unknown> = {}) {
  return { id, name: id.toUpperCase(), timezone: 'Europe/London', accountManager: 'am@msp.example', sla, ...extra };
}

function ci(id: string, clientId: string, dependsOn: string[] = []) {
  return { id, type: 'server', client: clientId, criticality: 'high' as const, environment: 'production' as const, dependsOn };
}

/**
 * Validates an object through the loader (JSON is YAML) and returns `path: message`
 * lines, in document order.
 */
function issues(input: unknown): string[] {
  const result = loadConfigText(JSON.stringify(input), 'inline.json', {});
  if (result.ok) return [];
  return result.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('enums', () => {
  it('exports the documented values', () => {
    expect(ROLES).toEqual([
      'admin',
      'service_desk',
      'tier2',
      'tier3',
      'incident_manager',
      'account_manager',
      'change_manager',
      'cab_member',
      'implementer',
      'client_contact',
    ]);
    expect(SEVERITIES).toEqual(['sev1', 'sev2', 'sev3', 'sev4']);
    expect(CI_CRITICALITIES).toEqual(['low', 'medium', 'high', 'critical']);
    expect(ENVIRONMENTS).toEqual(['production', 'staging', 'test']);
    expect(INTEGRATION_TYPES).toEqual(['alertmanager', 'grafana', 'generic', 'change_events']);
    expect(WEEKDAYS).toEqual(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
  });
});

describe('cross-reference checks', () => {
  it('accepts a consistent catalog', () => {
    const input: IncidentdConfigInput = {
      clients: [client('a'), client('b')],
      services: [{ id: 'svc', client: 'a', name: 'Svc', cis: ['a-app', 'a-db.primary'] }],
      configurationItems: [ci('a-app', 'a', ['a-db.primary']), ci('a-db.primary', 'a'), ci('b-app', 'b', ['a-db.primary'])],
      integrations: [{ name: 'am', type: 'alertmanager', token: 'x'.repeat(16), client: 'b' }],
    };
    expect(issues(input)).toEqual([]);
  });

  it('reports a CI of another client in a service, unknown CIs and unknown clients', () => {
    expect(
      issues({
        clients: [client('a'), client('b')],
        services: [{ id: 'svc', client: 'a', name: 'Svc', cis: ['b-app', 'nope'] }],
        configurationItems: [ci('b-app', 'b', ['ghost']), ci('c-app', 'c')],
        integrations: [{ name: 'am', type: 'grafana', token: 'x'.repeat(16), client: 'zzz' }],
      }),
    ).toEqual([
      'services[0].cis[0]: configuration item "b-app" belongs to client "b", not "a"',
      'services[0].cis[1]: unknown configuration item "nope"',
      'configurationItems[0].dependsOn[0]: unknown configuration item "ghost"',
      'configurationItems[1].client: unknown client "c" (defined clients: a, b)',
      'integrations[0].client: unknown client "zzz" (defined clients: a, b)',
    ]);
  });

  it('reports duplicates at the path of the duplicate', () => {
    expect(
      issues({
        clients: [
          client('a', {
            contacts: [
              { name: 'X', email: 'x@a.example' },
              { name: 'Y', email: 'y@a.example' },
              { name: 'X again', email: 'X@A.example' },
            ],
          }),
          client('a'),
        ],
        services: [
          { id: 's', client: 'a', name: 'S' },
          { id: 's', client: 'a', name: 'S2' },
        ],
        teams: [
          { id: 't', name: 'T' },
          { id: 't', name: 'T2' },
        ],
        integrations: [
          { name: 'am', type: 'alertmanager', token: 'x'.repeat(16) },
          { name: 'am', type: 'generic', token: 'y'.repeat(16) },
        ],
      }),
    ).toEqual([
      'clients[0].contacts[2].email: duplicate contact email "X@A.example" (already used by clients[0].contacts[0])',
      'clients[1].id: duplicate client id "a" (already defined at clients[0])',
      'services[1].id: duplicate service id "s" (already defined at services[0])',
      'teams[1].id: duplicate team id "t" (already defined at teams[0])',
      'integrations[1].name: duplicate integration name "am" (already defined at integrations[0])',
    ]);
  });

  it('reports each dependency cycle once, including self-dependencies', () => {
    expect(
      issues({
        clients: [client('a')],
        configurationItems: [ci('app', 'a', ['lb']), ci('lb', 'a', ['fw']), ci('fw', 'a', ['app']), ci('self', 'a', ['self']), ci('ok', 'a', ['app'])],
      }),
    ).toEqual(['configurationItems[2].dependsOn[0]: dependency cycle: app -> lb -> fw -> app', 'configurationItems[3].dependsOn[0]: dependency cycle: self -> self']);
  });

  it('requires businessHours when an SLA target runs on business hours', () => {
    const businessSla = { ...sla, sev3: { respond: '4h', resolve: '3d', hours: 'business' } };
    expect(issues({ clients: [client('a', { sla: businessSla })] })).toEqual([
      'clients[0].sla.sev3.hours: hours: business needs businessHours to be defined for client "a"',
    ]);
    expect(issues({ clients: [client('a', { sla: businessSla, businessHours: { start: '09:00', end: '17:00' } })] })).toEqual([]);
  });

  it('still runs when other parts of the file are invalid', () => {
    expect(
      issues({
        clients: [client('a', { timezone: 'Mars/Olympus' })],
        services: [{ id: 'svc', client: 'b', name: 'Svc' }],
      }),
    ).toEqual([
      'clients[0].timezone: unknown time zone "Mars/Olympus"; use an IANA zone like Europe/London or America/New_York',
      'services[0].client: unknown client "b" (defined clients: a)',
    ]);
  });
});

describe('client details', () => {
  it('normalises maintenance windows', () => {
    const result = incidentdConfigSchema.parse({
      clients: [
        client('a', {
          maintenanceWindows: [
            { days: ['mon', 'fri'], start: '19:00', end: '05:00' },
            { name: 'Weekend', days: ['sat', 'sun'], allDay: true },
            { days: ['sun'], start: '00:00', end: '24:00' },
          ],
        }),
      ],
    });
    expect(result.clients[0].maintenanceWindows).toEqual([
      { days: ['mon', 'fri'], start: '19:00', end: '05:00', allDay: false },
      { name: 'Weekend', days: ['sat', 'sun'], start: '00:00', end: '24:00', allDay: true },
      { days: ['sun'], start: '00:00', end: '24:00', allDay: true },
    ]);
  });

  it('validates maintenance windows and business hours', () => {
    expect(
      issues({
        clients: [
          client('a', {
            businessHours: { days: ['monday'], start: '9:00', end: '17:00', holidays: ['2025-02-30'] },
            maintenanceWindows: [
              { days: ['sat'] },
              { days: ['sun'], allDay: true, start: '01:00' },
              { days: [], start: '24:00', end: '25:00' },
            ],
          }),
          client('b', { businessHours: { start: '17:00', end: '09:00' } }),
        ],
      }),
    ).toEqual([
      'clients[0].businessHours.days[0]: expected one of mon, tue, wed, thu, fri, sat, sun (got "monday")',
      'clients[0].businessHours.start: expected a time like 09:00 or 17:30 (got "9:00")',
      'clients[0].businessHours.holidays[0]: expected a date like 2025-12-25 (got "2025-02-30")',
      'clients[0].maintenanceWindows[0].start: missing required key "start" (or set allDay: true)',
      'clients[0].maintenanceWindows[0].end: missing required key "end" (or set allDay: true)',
      'clients[0].maintenanceWindows[1].allDay: use either allDay: true or start/end, not both',
      'clients[0].maintenanceWindows[2].days: must not be empty (at least 1 entry)',
      'clients[0].maintenanceWindows[2].start: expected a time like 09:00 or 17:30 (got "24:00")',
      'clients[0].maintenanceWindows[2].end: expected a time like 17:30 or 24:00 (got "25:00")',
      'clients[1].businessHours.end: business hours must end after they start (17:00-09:00)',
    ]);
  });

  it('applies section defaults', () => {
    const config = incidentdConfigSchema.parse({ clients: [client('a', { businessHours: { start: '09:00', end: '17:00' } })] });
    expect(config.clients[0].businessHours).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00', holidays: [] });
    expect(config.logging).toEqual({ level: 'info' });
    expect(config.services).toEqual([]);
    expect(config.configurationItems).toEqual([]);
    expect(config.integrations).toEqual([]);
  });
});

describe('token rule (through the loader)', () => {
  it('explains how to provide a token', () => {
    const text = [
      'clients:',
      '  - id: acme',
      '    name: Acme',
      '    timezone: UTC',
      '    accountManager: am@msp.example',
      '    sla: { sev1: { respond: 15m, resolve: 4h }, sev2: { respond: 15m, resolve: 4h }, sev3: { respond: 15m, resolve: 4h }, sev4: { respond: 15m, resolve: 4h } }',
      'integrations:',
      '  - name: am',
      '    type: alertmanager',
      '    token: short-literal',
      '',
    ].join('\n');
    const result = loadConfigText(text, 'inline.yaml', {});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      {
        file: 'inline.yaml',
        path: 'integrations[0].token',
        line: 10,
        column: 12,
        message: 'integration tokens must be at least 16 characters; use ${ENV_VAR}',
      },
    ]);
    expect(JSON.stringify(result.problems)).not.toContain('short-literal');
  });
});

describe('smtp and communications', () => {
  it('checks the mail server settings and the reminder targets', () => {
    expect(
      issues({
        clients: [client('acme', { communications: { remind: [{ team: 'nobody' }], notifyWithin: { sev1: 'soon' } } })],
        smtp: { host: 'smtp.example', from: 'not an address', port: '99999' },
        communications: { remind: [{ oncall: 'missing-rotation' }], severities: [5] },
      }),
    ).toEqual([
      'clients[0].communications.remind[0].team: unknown team "nobody"',
      'clients[0].communications.notifyWithin.sev1: expected a duration like 15m, 4h or 1h30m',
      'smtp.from: expected an address like servicedesk@example.com or "Name <servicedesk@example.com>"',
      'smtp.port: must be at most 65535',
      'communications.remind[0].oncall: unknown on-call rotation "missing-rotation"',
      'communications.severities[0]: expected a severity 1, 2, 3 or 4',
    ]);
  });

  it('merges a client override key by key over the global policy', () => {
    const config = incidentdConfigSchema.parse({
      clients: [client('acme', { communications: { notifyWithin: { sev1: '10m' }, autoSendUpdates: true } })],
      communications: { updateEvery: { sev1: '20m', sev2: '40m' } },
    });
    expect(communicationsFor(config.communications, config.clients[0])).toMatchObject({
      notifyWithin: { sev1: '10m', sev2: '30m' },
      updateEvery: { sev1: '20m', sev2: '40m' },
      autoSendUpdates: true,
      remindBefore: '10m',
      severities: [1, 2],
    });
    expect(config.smtp).toBeUndefined();
  });
});
