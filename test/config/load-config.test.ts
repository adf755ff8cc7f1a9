import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  formatProblem,
  loadConfigFile,
  loadConfigOrThrow,
  loadConfigText,
  renderPath,
  type ConfigProblem,
  type LoadConfigResult,
} from '../../src/config/load-config';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/config');
const EXAMPLE = path.join(ROOT, 'config/incidentd.yaml');
const TOKEN = 'test-token-0123456789abcdef';
const ENV = { ALERTMANAGER_TOKEN: TOKEN };

/** A valid `clients:` section of 10 lines, for inline tests. */
const minimalClient = [
  'clients:',
  '  - id: acme',
  '    name: Acme',
  '    timezone: UTC',
  '    accountManager: am@msp.example',
  '    sla:',
  '      sev1: { respond: 15m, resolve: 4h }',
  '      sev2: { respond: 30m, resolve: 8h }',
  '      sev3: { respond: 4h, resolve: 3d }',
  '      sev4: { respond: 1d, resolve: 10d }',
  '',
].join('\n');

function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

function problemsOf(result: LoadConfigResult): ConfigProblem[] {
  if (result.ok) throw new Error('expected the configuration to be rejected, but it loaded');
  return result.problems;
}

function okConfig(result: LoadConfigResult) {
  if (!result.ok) throw new Error(`expected the configuration to load:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.config;
}

describe('config/incidentd.yaml (the shipped example)', () => {
  it('loads with an empty environment', () => {
    const config = okConfig(loadConfigFile(EXAMPLE, {}));
    expect(config.clients.map((c) => c.id)).toEqual(['northwind', 'acme-health', 'globex']);
    expect(config.services.length).toBeGreaterThanOrEqual(10);
    expect(config.configurationItems.length).toBeGreaterThanOrEqual(25);
    expect(config.teams.map((t) => t.id)).toEqual([
      'service-desk',
      'tier2',
      'tier3',
      'network',
      'database',
      'security',
      'incident-managers',
      'change-managers',
      'cab',
    ]);
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      publicUrl: 'http://127.0.0.1:8080',
      trustProxy: false,
      secureCookies: false,
      bodyLimit: '1mb',
      intakeBodyLimit: '25mb',
      maxConcurrentIntake: 64,
      metricsListen: { host: '127.0.0.1', port: 9464 },
      metricsToken: undefined,
    });
    expect(config.database).toEqual({ embedded: { dataDir: './data', port: 54329 } });
    expect(config.logging.level).toBe('info');
    expect(config.integrations).toEqual([
      { name: 'alertmanager', type: 'alertmanager', token: 'dev-only-alertmanager-token-change-me' },
      { name: 'scripts', type: 'generic', token: 'dev-only-generic-token-change-me' },
      { name: 'deploys', type: 'change_events', token: 'dev-only-change-events-token-change-me' },
    ]);
  });

  it('describes the three clients as documented', () => {
    const config = okConfig(loadConfigFile(EXAMPLE, {}));
    const [northwind, acme, globex] = config.clients;
    expect([northwind.timezone, acme.timezone, globex.timezone]).toEqual(['Europe/London', 'America/New_York', 'Europe/Berlin']);
    expect([northwind.statusPage.public, acme.statusPage.public, globex.statusPage.public]).toEqual([true, false, true]);
    expect([northwind.changePolicy.clientApproval, acme.changePolicy.clientApproval, globex.changePolicy.clientApproval]).toEqual([
      'high_risk',
      'always',
      'high_risk',
    ]);
    expect(northwind.sla.sev1).toEqual({ respond: '15m', resolve: '4h', hours: '24x7' });
    expect(northwind.sla.sev3).toEqual({ respond: '4h', resolve: '3d', hours: 'business' });
    expect(northwind.maintenanceWindows).toEqual([
      { name: 'Weeknight patching', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '19:00', end: '05:00', allDay: false },
      { name: 'Weekend', days: ['sat', 'sun'], start: '00:00', end: '24:00', allDay: true },
    ]);
    const hipaa = config.configurationItems.filter((ci) => ci.tags.includes('regulated:hipaa'));
    const sox = config.configurationItems.filter((ci) => ci.tags.includes('regulated:sox'));
    expect(hipaa.length).toBeGreaterThan(0);
    expect(hipaa.every((ci) => ci.client === 'acme-health')).toBe(true);
    expect(sox.length).toBeGreaterThan(0);
    expect(sox.every((ci) => ci.client === 'globex')).toBe(true);
    expect(config.configurationItems.some((ci) => ci.environment === 'staging')).toBe(true);
  });

  it('takes values from the environment when set', () => {
    const config = okConfig(loadConfigFile(EXAMPLE, { ALERTMANAGER_TOKEN: 'prod-token-from-env-0123', PORT: '9999', LOG_LEVEL: 'debug' }));
    expect(config.integrations[0].token).toBe('prod-token-from-env-0123');
    expect(config.server.port).toBe(9999);
    expect(config.logging.level).toBe('debug');
  });

  it('builds links with the port it listens on when only PORT is set (PORT=18081 npm start)', () => {
    expect(okConfig(loadConfigFile(EXAMPLE, { PORT: '18081' })).server.publicUrl).toBe('http://127.0.0.1:18081');
    // The Docker image listens on all interfaces; a link cannot point at 0.0.0.0.
    expect(okConfig(loadConfigFile(EXAMPLE, { PORT: '18081', INCIDENTD_HOST: '0.0.0.0' })).server.publicUrl).toBe('http://127.0.0.1:18081');
    expect(okConfig(loadConfigFile(EXAMPLE, { PORT: '18081', INCIDENTD_HOST: 'incidentd.internal' })).server.publicUrl).toBe('http://incidentd.internal:18081');
    expect(okConfig(loadConfigFile(EXAMPLE, { PORT: '18081', PUBLIC_URL: 'https://incidents.precision.example' })).server.publicUrl).toBe('https://incidents.precision.example');
  });

  it('runs daily jobs in the MSP time zone', () => {
    expect(okConfig(loadConfigFile(EXAMPLE, {})).timezone).toBe('Europe/London');
  });
});

describe('loadConfigFile: valid files', () => {
  it('loads the minimal fixture and applies defaults', () => {
    const config = okConfig(loadConfigFile(fixture('valid-minimal.yaml'), ENV));
    expect(config.integrations[0].token).toBe(TOKEN);
    expect(config.services[0]).toEqual({
      id: 'web',
      client: 'acme',
      name: 'Website',
      description: '',
      public: false,
      group: 'General',
      cis: ['app-01'],
    });
    expect(config.configurationItems[1]).toEqual({
      id: 'db-01',
      type: 'database',
      client: 'acme',
      criticality: 'critical',
      environment: 'production',
      dependsOn: [],
      tags: [],
    });
    const client = config.clients[0];
    expect(client.changePolicy).toEqual({ leadTime: '14d', clientApproval: 'high_risk', notifyBefore: '48h', clientValidation: false });
    expect(client.statusPage).toMatchObject({ public: false, subscriptions: true });
    expect(client.maintenanceWindows).toEqual([]);
    expect(client.sla.sev4.hours).toBe('24x7');
    expect(config.teams).toEqual([]);
    expect(config.server.port).toBe(8080);
    expect(config.database.embedded).toEqual({ dataDir: './data', port: 54329 });
  });

  it('supports ${VAR:-default} and $${ escaping', () => {
    const config = okConfig(loadConfigFile(fixture('escaping.yaml'), {}));
    expect(config.server.port).toBe(9090);
    expect(config.server.publicUrl).toBe('https://status.msp.example/');
    expect(config.clients[0].name).toBe('Acme Corp');
    expect(config.clients[0].branding?.signature).toBe('Costs ${AMOUNT} - not interpolated; $$HOME and $5 stay as they are');
    expect(config.integrations[0].token).toBe('default-token-0123456789');

    const fromEnv = okConfig(
      loadConfigFile(fixture('escaping.yaml'), { INCIDENTD_TEST_PORT: '8443', CLIENT_NAME: 'ACME (prod)', AMOUNT: 'should not appear' }),
    );
    expect(fromEnv.server.port).toBe(8443);
    expect(fromEnv.clients[0].name).toBe('ACME (prod)');
    expect(fromEnv.clients[0].branding?.signature).toBe('Costs ${AMOUNT} - not interpolated; $$HOME and $5 stay as they are');
  });

  it('cannot change the YAML structure through an environment variable', () => {
    const evil = 'x\nclients: []\n  injected: true';
    const text = 'clients:\n  - id: acme\n    name: ${NAME}\n    timezone: UTC\n    accountManager: am@msp.example\n' +
      '    sla:\n      sev1: { respond: 15m, resolve: 4h }\n      sev2: { respond: 30m, resolve: 8h }\n' +
      '      sev3: { respond: 4h, resolve: 3d }\n      sev4: { respond: 1d, resolve: 10d }\n';
    const config = okConfig(loadConfigText(text, 'inline.yaml', { NAME: evil }));
    expect(config.clients).toHaveLength(1);
    expect(config.clients[0].name).toBe(evil);
  });
});

describe('loadConfigFile: problems carry path, line and column', () => {
  it('bad duration', () => {
    const problems = problemsOf(loadConfigFile(fixture('bad-duration.yaml'), ENV));
    expect(problems).toEqual([
      {
        file: fixture('bad-duration.yaml'),
        path: 'clients[0].sla.sev2.respond',
        line: 14,
        column: 18,
        message: 'expected a duration like 15m, 4h or 1h30m (got "15 minutes")',
      },
    ]);
    expect(formatProblem(problems[0])).toBe(
      `${fixture('bad-duration.yaml')}:14:18: clients[0].sla.sev2.respond: expected a duration like 15m, 4h or 1h30m (got "15 minutes")`,
    );
  });

  it('unknown key (with a suggestion), and the key it replaced is missing', () => {
    const problems = problemsOf(loadConfigFile(fixture('unknown-key.yaml'), ENV));
    expect(problems).toEqual([
      // The missing key points at the closest existing parent: the clients[0] mapping.
      { file: fixture('unknown-key.yaml'), path: 'clients[0].sla', line: 3, column: 5, message: 'missing required key "sla"' },
      { file: fixture('unknown-key.yaml'), path: 'clients[0].slaa', line: 11, column: 5, message: 'unknown key "slaa" (did you mean "sla"?)' },
    ]);
  });

  it('unknown client referenced by a service', () => {
    const problems = problemsOf(loadConfigFile(fixture('unknown-client-ref.yaml'), ENV));
    expect(problems).toEqual([
      {
        file: fixture('unknown-client-ref.yaml'),
        path: 'services[0].client',
        line: 18,
        column: 13,
        message: 'unknown client "acme-corp" (defined clients: acme)',
      },
    ]);
  });

  it('missing environment variable', () => {
    const problems = problemsOf(loadConfigFile(fixture('valid-minimal.yaml'), {}));
    expect(problems).toEqual([
      {
        file: fixture('valid-minimal.yaml'),
        path: 'integrations[0].token',
        line: 36,
        column: 12,
        message: 'environment variable ALERTMANAGER_TOKEN is not set',
      },
    ]);
  });

  it('dependency cycle', () => {
    const problems = problemsOf(loadConfigFile(fixture('dependency-cycle.yaml'), ENV));
    expect(problems).toEqual([
      {
        file: fixture('dependency-cycle.yaml'),
        path: 'configurationItems[1].dependsOn[0]',
        line: 33,
        column: 17,
        message: 'dependency cycle: app-01 -> db-01 -> app-01',
      },
    ]);
  });

  it('bad time zone', () => {
    const problems = problemsOf(loadConfigFile(fixture('bad-timezone.yaml'), ENV));
    expect(problems).toEqual([
      {
        file: fixture('bad-timezone.yaml'),
        path: 'clients[0].timezone',
        line: 5,
        column: 15,
        message: 'unknown time zone "America/NewYork"; use an IANA zone like Europe/London or America/New_York',
      },
    ]);
  });

  it('duplicate id (and the reference it broke)', () => {
    const problems = problemsOf(loadConfigFile(fixture('duplicate-id.yaml'), ENV));
    expect(problems).toEqual([
      {
        file: fixture('duplicate-id.yaml'),
        path: 'configurationItems[0].dependsOn[0]',
        line: 27,
        column: 17,
        message: 'unknown configuration item "db-01"',
      },
      {
        file: fixture('duplicate-id.yaml'),
        path: 'configurationItems[1].id',
        line: 28,
        column: 9,
        message: 'duplicate configuration item id "app-01" (already defined at configurationItems[0])',
      },
    ]);
  });

  it('YAML syntax error', () => {
    const problems = problemsOf(loadConfigFile(fixture('syntax-error.yaml'), ENV));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: fixture('syntax-error.yaml'), path: '(root)', line: 19 });
    expect(problems[0].message).toMatch(/^YAML syntax error: /);
    // Only the first line of yaml's message; no source excerpt.
    expect(problems[0].message).not.toContain('\n');
  });

  it('reports many problems at once, sorted by position', () => {
    const problems = problemsOf(loadConfigFile(fixture('multiple-problems.yaml'), {}));
    expect(problems.map((p) => [p.line, p.path, p.message])).toEqual([
      [3, 'server.port', 'expected number, got string "eighty"'],
      [12, 'clients[0].sla.sev3.respond', 'expected a duration like 15m, 4h or 1h30m (got "4 hours")'],
      [16, 'clients[0].statusPage.colour', 'unknown key "colour"'],
      [19, 'services[0].client', 'unknown client "globex" (defined clients: acme)'],
      [21, 'services[0].cis[1]', 'unknown configuration item "app-99"'],
      [26, 'configurationItems[0].criticality', 'expected one of low, medium, high, critical (got "urgent")'],
      [31, 'integrations[0].token', 'environment variable ALERTMANAGER_TOKEN is not set'],
    ]);
  });

  it('unreadable file: one problem with the OS message', () => {
    const missing = fixture('does-not-exist.yaml');
    const problems = problemsOf(loadConfigFile(missing, ENV));
    expect(problems).toHaveLength(1);
    expect(problems[0].path).toBe('(root)');
    expect(problems[0].line).toBeUndefined();
    expect(problems[0].message).toContain('ENOENT');
    expect(formatProblem(problems[0])).toMatch(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: \\(root\\): cannot read`));
  });
});

describe('secrets are never echoed', () => {
  it('a too-short token from the environment is not shown', () => {
    const secret = 's3cr3t-tok';
    const problems = problemsOf(loadConfigFile(fixture('valid-minimal.yaml'), { ALERTMANAGER_TOKEN: secret }));
    expect(problems).toEqual([
      {
        file: fixture('valid-minimal.yaml'),
        path: 'integrations[0].token',
        line: 36,
        column: 12,
        message: 'integration tokens must be at least 16 characters; use ${ENV_VAR}',
      },
    ]);
    expect(JSON.stringify(problems)).not.toContain(secret);
  });

  it('a literal token of the wrong type is not shown', () => {
    const text = minimalClient + 'integrations:\n  - name: am\n    type: alertmanager\n    token: 123456789\n';
    const problems = problemsOf(loadConfigText(text, 'inline.yaml', {}));
    expect(problems).toEqual([
      { file: 'inline.yaml', path: 'integrations[0].token', line: 14, column: 12, message: 'expected string, got number (value hidden)' },
    ]);
  });

  it('values from the environment are hidden in any message', () => {
    const text = minimalClient.replace('respond: 15m', 'respond: "${SEV1_RESPOND}"') + 'services:\n  - { id: web, client: "${CLIENT}", name: Web }\n';
    const problems = problemsOf(loadConfigText(text, 'inline.yaml', { SEV1_RESPOND: 'fifteen-minutes', CLIENT: 'private-client-name' }));
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['clients[0].sla.sev1.respond', 'expected a duration like 15m, 4h or 1h30m (got <hidden>)'],
      ['services[0].client', 'unknown client <hidden> (defined clients: acme)'],
    ]);
    expect(JSON.stringify(problems)).not.toMatch(/fifteen-minutes|private-client-name/);
  });

  it('short values from the environment are hidden at their own path', () => {
    const text = 'server:\n  port: ${PORT}\n  bodyLimit: ${BODY_LIMIT}\n' + minimalClient;
    const problems = problemsOf(loadConfigText(text, 'inline.yaml', { PORT: 'abc', BODY_LIMIT: 'big' }));
    expect(problems).toEqual([
      { file: 'inline.yaml', path: 'server.port', line: 2, column: 9, message: 'expected number, got string (value hidden)' },
      { file: 'inline.yaml', path: 'server.bodyLimit', line: 3, column: 14, message: 'expected a size like 512kb or 10mb (got <hidden>)' },
    ]);
  });

  it('a database url with a password is not shown', () => {
    const text = 'database:\n  url: mysql://incidentd:hunter2-password@db/incidentd\n' + minimalClient;
    const problems = problemsOf(loadConfigText(text, 'inline.yaml', {}));
    expect(problems).toEqual([
      { file: 'inline.yaml', path: 'database.url', line: 2, column: 8, message: 'expected a postgres:// or postgresql:// connection URL' },
    ]);
  });
});


describe('loadConfigText: messages', () => {
  it('describes wrong types, enums, missing keys and empty values in words', () => {
    const text = [
      'server:',
      '  port: 70000',
      '  trustProxy: maybe',
      'logging:',
      '  level: verbose',
      'clients:',
      '  - id: Acme Corp',
      '    name:',
      '    timezone: UTC',
      '    accountManager: not-an-email',
      '    contacts: { name: x }',
      '    sla:',
      '      sev1: { respond: 15m, resolve: 4h, hours: always }',
      '      sev2: { respond: 30m, resolve: 8h }',
      '      sev3: { respond: 4h, resolve: 1h }',
      '      sev4: 1d',
      '',
    ].join('\n');
    const problems = problemsOf(loadConfigText(text, 'inline.yaml', {}));
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual([
      '2:9 server.port: must be at most 65535',
      '3:15 server.trustProxy: expected false, true or the number of trusted proxies (e.g. 1)',
      '5:10 logging.level: expected one of fatal, error, warn, info, debug, trace (got "verbose")',
      '7:9 clients[0].id: expected an id made of lowercase letters, digits and dashes, e.g. "acme-health" (got "Acme Corp")',
      '8:5 clients[0].name: expected string, got an empty value (null)',
      '10:21 clients[0].accountManager: expected an email address (got "not-an-email")',
      '11:5 clients[0].contacts: expected list, got a mapping',
      '13:49 clients[0].sla.sev1.hours: expected one of 24x7, business (got "always")',
      '15:37 clients[0].sla.sev3.resolve: resolve target (1h) must not be shorter than the respond target (4h)',
      '16:13 clients[0].sla.sev4: expected mapping, got string "1d"',
    ]);
  });

  it('requires at least one client, and reports a missing clients key at the root', () => {
    expect(problemsOf(loadConfigText('clients: []\n', 'a.yaml', {}))).toEqual([
      { file: 'a.yaml', path: 'clients', line: 1, column: 1, message: 'at least one client must be defined' },
    ]);
    expect(problemsOf(loadConfigText('logging: { level: info }\n', 'b.yaml', {}))).toEqual([
      { file: 'b.yaml', path: 'clients', line: 1, column: 1, message: 'missing required key "clients"' },
    ]);
    expect(problemsOf(loadConfigText('# nothing here\n', 'c.yaml', {}))).toEqual([
      { file: 'c.yaml', path: '(root)', message: 'the configuration is empty; expected a mapping with at least a "clients" list' },
    ]);
  });

  it('reports every YAML syntax error with its position', () => {
    const problems = problemsOf(loadConfigText('a: 1\na: 2\nb: [1, 2\n', 'dup.yaml', {}));
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems[0]).toMatchObject({ path: '(root)', line: 2, column: 1, message: 'YAML syntax error: Map keys must be unique' });
  });

  it('reports one YAML error per line and explains unquoted ${...} in flow collections', () => {
    const text = 'clients:\n  - sla:\n      sev1: { respond: ${SEV1_RESPOND}, resolve: 4h }\n';
    expect(problemsOf(loadConfigText(text, 'flow.yaml', { SEV1_RESPOND: '15m' }))).toEqual([
      {
        file: 'flow.yaml',
        path: '(root)',
        line: 3,
        column: 25,
        message: 'YAML syntax error: Unexpected flow-map-start at node end; inside { } or [ ], put values that use ${...} in quotes: "${VAR}"',
      },
    ]);
  });

  it('accepts reserved keys for later features', () => {
    const text = minimalClient + 'freezes: []\n';
    expect(okConfig(loadConfigText(text, 'inline.yaml', {})).freezes).toEqual([]);
  });

  it('never repeats the SMTP password in a problem', () => {
    const text = minimalClient + 'smtp: { host: mail, from: desk@msp.example, auth: { user: desk, pass: [hunter2-smtp-secret] } }\n';
    const problems = problemsOf(loadConfigText(text, 'inline.yaml', {}));
    expect(problems.map((p) => p.path)).toEqual(['smtp.auth.pass']);
    expect(JSON.stringify(problems)).not.toContain('hunter2');
  });

  it('validates escalation policies and their references', () => {
    const text = minimalClient + 'escalationPolicies: [{ id: default, steps: [{ after: soon, notify: [{ team: nobody }, { pager: x }] }] }]\n';
    const problems = problemsOf(loadConfigText(text, 'inline.yaml', {})).map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'escalationPolicies[0].steps[0].after: expected a duration like 15m, 4h or 1h30m',
        'escalationPolicies[0].steps[0].notify[1]: expected one of { team }, { user }, { oncall }, { accountManager: true }, { role }',
      ]),
    );
  });

  it('builds server.publicUrl from host and port when it is absent or empty, and keeps an explicit one', () => {
    const publicUrl = (server: string) => okConfig(loadConfigText(server + minimalClient, 'inline.yaml', {})).server.publicUrl;
    expect(publicUrl('')).toBe('http://127.0.0.1:8080');
    expect(publicUrl('server:\n  port: 9000\n')).toBe('http://127.0.0.1:9000');
    expect(publicUrl('server:\n  host: incidentd.internal\n  port: 9000\n')).toBe('http://incidentd.internal:9000');
    expect(publicUrl('server:\n  host: "::"\n  port: 9000\n')).toBe('http://127.0.0.1:9000');
    expect(publicUrl('server:\n  host: "::1"\n  port: 9000\n')).toBe('http://[::1]:9000');
    expect(publicUrl('server:\n  port: 9000\n  publicUrl: ""\n')).toBe('http://127.0.0.1:9000');
    expect(publicUrl('server:\n  port: 9000\n  publicUrl: https://incidents.msp.example/\n')).toBe('https://incidents.msp.example/');
    const problems = problemsOf(loadConfigText('server:\n  publicUrl: incidents.msp.example\n' + minimalClient, 'inline.yaml', {}));
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual(['2:14 server.publicUrl: expected an http:// or https:// URL (got "incidents.msp.example")']);
    const typo = problemsOf(loadConfigText('server:\n  publicURL: https://incidents.msp.example\n' + minimalClient, 'inline.yaml', {}));
    expect(typo.map((p) => `${p.path}: ${p.message}`)).toEqual(['server.publicURL: unknown key "publicURL" (did you mean "publicUrl"?)']);
  });

  it('takes the MSP time zone for daily jobs, UTC by default, and checks it', () => {
    expect(okConfig(loadConfigText(minimalClient, 'inline.yaml', {})).timezone).toBe('UTC');
    expect(okConfig(loadConfigText('timezone: America/New_York\n' + minimalClient, 'inline.yaml', {})).timezone).toBe('America/New_York');
    const problems = problemsOf(loadConfigText('timezone: Europe/Londn\n' + minimalClient, 'inline.yaml', {}));
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual([
      '1:11 timezone: unknown time zone "Europe/Londn"; use an IANA zone like Europe/London or America/New_York',
    ]);
  });

  it('rejects an unknown top-level key', () => {
    const problems = problemsOf(loadConfigText(minimalClient + 'servces: []\n', 'inline.yaml', {}));
    expect(problems).toEqual([
      { file: 'inline.yaml', path: 'servces', line: 11, column: 1, message: 'unknown key "servces" (did you mean "services"?)' },
    ]);
  });
});

describe('loadConfigOrThrow / ConfigError', () => {
  it('returns the config when valid', () => {
    expect(loadConfigOrThrow(fixture('valid-minimal.yaml'), ENV).clients[0].id).toBe('acme');
  });

  it('throws a ConfigError listing every problem', () => {
    let error: unknown;
    try {
      loadConfigOrThrow(fixture('multiple-problems.yaml'), {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.problems).toHaveLength(7);
    expect(configError.message).toContain(`${fixture('multiple-problems.yaml')}:3:9: server.port: expected number, got string "eighty"`);
    expect(configError.message.split('\n')).toHaveLength(8);
  });
});

describe('renderPath / formatProblem', () => {
  it('renders paths', () => {
    expect(renderPath([])).toBe('(root)');
    expect(renderPath(['clients', 2, 'sla', 'sev1', 'respond'])).toBe('clients[2].sla.sev1.respond');
    expect(renderPath(['a', 'odd key', 0])).toBe('a["odd key"][0]');
  });

  it('formats with and without a position', () => {
    expect(formatProblem({ file: 'config/incidentd.yaml', path: 'clients[2].sla.sev1.respond', line: 42, column: 9, message: 'bad' })).toBe(
      'config/incidentd.yaml:42:9: clients[2].sla.sev1.respond: bad',
    );
    expect(formatProblem({ file: 'config/incidentd.yaml', path: '(root)', message: 'bad' })).toBe('config/incidentd.yaml: (root): bad');
  });
});
