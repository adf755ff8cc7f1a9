import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../src/features/auth/roles';
import { rfc } from '../changes/change-fixtures';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * Role x route: every operation of the OpenAPI document, called by a user of every role and
 * by nobody, must be allowed or refused exactly as the table below says. The table is
 * written by hand (not read from the routes), so a route whose access changes, and a new
 * route that nobody wrote an expectation for, fail this test. Routes a client contact may
 * call are also probed with other clients' records: a contact must never see them.
 */

// Role sets as the policy reads (INC-06, ACC-01), spelt out here on purpose.
const STAFF: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager', 'account_manager', 'change_manager', 'cab_member', 'implementer'];
const EVERYONE: readonly Role[] = [...STAFF, 'client_contact'];
const RESPONDERS: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager'];
const LOGGERS: readonly Role[] = [...RESPONDERS, 'account_manager'];
const ADMIN: readonly Role[] = ['admin'];
const CHANGE_MANAGER: readonly Role[] = ['change_manager'];
const CAB: readonly Role[] = ['change_manager', 'cab_member', 'admin'];
const REPORT_READERS: readonly Role[] = ['admin', 'incident_manager', 'account_manager'];

type Expectation =
  /** Users holding one of `roles` pass the role check; other users get 403, nobody 401. */
  | {
      roles: readonly Role[];
      /** Routes that write and that a client contact may call: a valid body, so the probe with another client's record gets past validation. */
      contactProbeBody?: Record<string, unknown>;
    }
  /** Authenticated by an integration's own token: no user token opens it. */
  | { integration: true; refusedWith: 401 | 404 };

const EXPECTED: Record<string, Expectation> = {
  'GET /me': { roles: EVERYONE },
  'GET /users': { roles: ADMIN },
  'GET /access-review': { roles: ADMIN },
  'POST /access-review/sign-off': { roles: ADMIN },
  'GET /audit': { roles: ADMIN },
  'GET /audit/export': { roles: ADMIN },
  'GET /clients': { roles: EVERYONE },
  'GET /clients/{clientId}': { roles: EVERYONE },
  'GET /services': { roles: EVERYONE },
  'GET /configuration-items': { roles: STAFF },

  'GET /incidents': { roles: EVERYONE },
  'POST /incidents': { roles: LOGGERS },
  'GET /incidents/{id}': { roles: EVERYONE },
  'POST /incidents/{id}/awaiting-client': { roles: RESPONDERS },
  'POST /incidents/{id}/acknowledge': { roles: RESPONDERS },
  'POST /incidents/{id}/assign': { roles: RESPONDERS },
  'POST /incidents/{id}/transition': { roles: RESPONDERS },
  'POST /incidents/{id}/notes': { roles: LOGGERS },
  'POST /incidents/{id}/updates': { roles: LOGGERS },
  'POST /incidents/{id}/severity': { roles: RESPONDERS },
  'POST /incidents/{id}/urgency': { roles: RESPONDERS },
  'POST /incidents/{id}/priority': { roles: RESPONDERS },
  'POST /incidents/{id}/category': { roles: RESPONDERS },
  'POST /incidents/{id}/security': { roles: RESPONDERS },
  'POST /incidents/{id}/escalate': { roles: LOGGERS },
  'POST /incidents/{id}/review': { roles: RESPONDERS },
  'GET /incidents/{id}/bridge': { roles: LOGGERS },
  'POST /incidents/{id}/major': { roles: LOGGERS },
  'POST /incidents/{id}/roles': { roles: LOGGERS },
  'DELETE /incidents/{id}/roles/{role}': { roles: LOGGERS },
  'POST /incidents/{id}/conference': { roles: LOGGERS },
  'POST /incidents/{id}/tasks': { roles: LOGGERS },
  'PATCH /incidents/{id}/tasks/{taskId}': { roles: LOGGERS },
  'GET /incidents/{id}/suspects': { roles: RESPONDERS },
  'POST /incidents/{id}/suspects/{change}/confirm': { roles: RESPONDERS },
  'POST /incidents/{id}/suspects/{change}/dismiss': { roles: RESPONDERS },

  'GET /oncall': { roles: STAFF },
  'POST /oncall/{rotation}/overrides': { roles: RESPONDERS },
  'DELETE /oncall/{rotation}/overrides/{id}': { roles: RESPONDERS },
  'GET /notifications': { roles: ['admin', 'incident_manager', 'service_desk'] },
  'POST /notifications/{id}/retry': { roles: ADMIN },
  'GET /reports/sla': { roles: REPORT_READERS },
  'GET /reports/satisfaction': { roles: REPORT_READERS },

  'GET /reviews/{id}': { roles: STAFF },
  'PATCH /reviews/{id}': { roles: RESPONDERS },
  'GET /reviews/{id}/export.md': { roles: STAFF },
  'POST /reviews/{id}/actions': { roles: RESPONDERS },
  'PATCH /reviews/{id}/actions/{itemId}': { roles: RESPONDERS },
  'POST /reviews/{id}/close': { roles: RESPONDERS },

  'GET /changes': { roles: EVERYONE },
  'POST /changes': { roles: STAFF },
  'GET /changes/{id}': { roles: EVERYONE },
  'PATCH /changes/{id}': { roles: STAFF },
  'GET /changes/{id}/incidents': { roles: STAFF },
  'GET /changes/schedule': { roles: EVERYONE },
  'GET /changes/calendar-feeds/{client}': { roles: ['admin', 'change_manager', 'account_manager', 'client_contact'] },
  'GET /changes/calendar.ics': { integration: true, refusedWith: 404 },
  'GET /changes/kpis': { roles: ['change_manager', 'cab_member', 'account_manager', 'admin'] },
  'POST /changes/{id}/submit': { roles: STAFF },
  'POST /changes/{id}/assess': { roles: CHANGE_MANAGER },
  'POST /changes/{id}/approve': { roles: EVERYONE, contactProbeBody: { rationale: 'looks fine to me' } },
  'POST /changes/{id}/reject': { roles: EVERYONE, contactProbeBody: { rationale: 'not in our name' } },
  'POST /changes/{id}/defer': { roles: EVERYONE, contactProbeBody: { rationale: 'ask us next month' } },
  'POST /changes/{id}/exception': { roles: CHANGE_MANAGER },
  'POST /changes/{id}/schedule': { roles: CHANGE_MANAGER },
  'POST /changes/{id}/start': { roles: ['implementer', 'admin'] },
  'POST /changes/{id}/complete': { roles: ['implementer', 'admin'] },
  'POST /changes/{id}/review': { roles: CHANGE_MANAGER },
  'POST /changes/{id}/close': { roles: CHANGE_MANAGER },
  'POST /changes/{id}/cancel': { roles: STAFF },
  'POST /change-events': { integration: true, refusedWith: 401 },
  'GET /change-events': { roles: STAFF },
  'POST /cab/meetings': { roles: ['change_manager', 'admin'] },
  'GET /cab/meetings': { roles: CAB },
  'GET /cab/meetings/{id}': { roles: CAB },
  'GET /cab/meetings/{id}/minutes': { roles: CAB },
  'POST /cab/meetings/{id}/items/{item}/decision': { roles: ['cab_member'] },

  'GET /status-pages/{client}/overrides': { roles: RESPONDERS },
  'POST /status-pages/{client}/overrides': { roles: RESPONDERS },
  'DELETE /status-pages/{client}/overrides/{component}': { roles: RESPONDERS },

  'GET /oncall/calendar-feed': { roles: STAFF },
  'POST /oncall/calendar-feed': { roles: STAFF },
  'DELETE /oncall/calendar-feed': { roles: STAFF },
  'POST /oncall/calendar-feeds/{user}': { roles: ADMIN },
  'DELETE /oncall/calendar-feeds/{user}': { roles: ADMIN },

  'GET /poison-alerts': { roles: ADMIN },
  'POST /poison-alerts/{id}/retry': { roles: ADMIN },

  'POST /alerts/alertmanager': { integration: true, refusedWith: 401 },
  'POST /alerts/grafana': { integration: true, refusedWith: 401 },
  'POST /alerts/generic': { integration: true, refusedWith: 401 },
};

interface Operation {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** As the document writes it: /incidents/{id}. */
  path: string;
  queryParameters: { name: string; schema: { enum?: unknown[] } }[];
}
const keyOf = (operation: Operation) => `${operation.method.toUpperCase()} ${operation.path}`;

let t: TestApp;
let http: supertest.SuperTest<supertest.Test>;
let operations: Operation[];
const tokens = new Map<Role, string>();

/** What the contact of northwind may see, and what belongs to others (globex, the triage queue, security). */
const own = { incident: '', change: '' };
const foreign = { incidents: [] as string[], change: '' };
/** Anything that identifies another client's record in a response. */
let foreignMarkers: RegExp[];

beforeAll(async () => {
  t = await startTestApp();
  // Not the agent: no cookie may carry over from one caller to the next.
  http = supertest(t.app.handleRequest) as unknown as supertest.SuperTest<supertest.Test>;
  // The implementer is the one rfc() names; the contact belongs to northwind.
  for (const role of ROLES) tokens.set(role, await t.tokenFor(role, role === 'client_contact' ? { clientId: 'northwind' } : role === 'implementer' ? { email: 'impl@test.example' } : {}));
  const desk = tokens.get('service_desk')!;

  const incident = async (client: string | null, title: string) => {
    const res = await http.post('/api/v1/incidents').set(as(desk)).send({ title, client, severity: 3, source: 'phone' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  own.incident = await incident('northwind', 'Shop checkout slow');
  const globexIncident = await incident('globex', 'FOREIGN trading portal down');
  const triageIncident = await incident(null, 'FOREIGN caller did not say which company');
  const securityIncident = await incident('northwind', 'FOREIGN suspicious logins');
  expect((await http.post(`/api/v1/incidents/${securityIncident}/security`).set(as(desk)).send({ reason: 'credential stuffing' })).status).toBe(200);
  foreign.incidents = [globexIncident, triageIncident, securityIncident];

  const change = async (body: Record<string, unknown>) => {
    const res = await http.post('/api/v1/changes').set(as(tokens.get('tier2')!)).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  own.change = await change(rfc());
  foreign.change = await change(rfc({ title: 'FOREIGN trading database failover', clients: ['globex'], services: ['gx-trading-portal'], cis: ['gx-trade-db-01'] }));

  foreignMarkers = [/FOREIGN/, /globex/i, /acme-health/i, ...[...foreign.incidents, foreign.change].map((id) => new RegExp(`\\b${id}\\b`))];
  const document = (await http.get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: { enum?: unknown[] } }[] }>> };
  operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method as Operation['method'],
      path,
      queryParameters: (operation.parameters ?? []).filter((parameter) => parameter.in === 'query'),
    })),
  );
}, 120_000);
afterAll(async () => t?.close());

/** Records that do not exist. */
const GHOST = { incident: 'INC-999999', change: 'CHG-999999', client: 'no-such-client' };

const as = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The record a path parameter names, for the matrix (the contact's own client) and for the probes (another client's). */
function fill(path: string, records: { incident: string; change: string; client: string }): string {
  return path.replace(/([^/]+)\/\{(\w+)\}/g, (_match, segment: string, name: string) => {
    const value =
      segment === 'incidents' ? records.incident
      : segment === 'changes' ? records.change
      : segment === 'suspects' ? records.change
      : name === 'client' || name === 'clientId' ? records.client
      : name === 'rotation' ? 'tier2-weekly'
      : name === 'role' ? 'scribe'
      : name === 'component' ? 'nw-webshop'
      : '999999';
    return `${segment}/${encodeURIComponent(value)}`;
  });
}

/** The route's role check refused the caller (a 403 from a rule about the record names no roles). */
const refusedForRole = (res: supertest.Response) => res.status === 403 && /^this action needs one of the roles: /.test(res.body?.error?.message ?? '');

function send(operation: Operation, path: string, token?: string, body: Record<string, unknown> = {}) {
  const request = http[operation.method](`/api/v1${path}`);
  if (token) request.set(as(token));
  return operation.method === 'get' ? request : request.send(body);
}

describe('role x route (every operation of the OpenAPI document)', () => {
  it('has an access expectation for every documented route, and none for a route that is gone', () => {
    const documented = new Set(operations.map(keyOf));
    expect(operations.length).toBeGreaterThan(50);
    expect([...documented].filter((key) => !(key in EXPECTED)), 'routes without an access expectation: add them to EXPECTED').toEqual([]);
    expect(Object.keys(EXPECTED).filter((key) => !documented.has(key)), 'expectations for routes that no longer exist').toEqual([]);
  });

  it('answers every route as the table says, for every role and for nobody', async () => {
    const wrong: string[] = [];
    for (const operation of operations) {
      const expectation = EXPECTED[keyOf(operation)];
      if (!expectation) continue;
      const path = fill(operation.path, { ...own, client: 'northwind' });
      const anonymous = await send(operation, path);
      const refusal = 'integration' in expectation ? expectation.refusedWith : 401;
      if (anonymous.status !== refusal) wrong.push(`${keyOf(operation)} without credentials: ${anonymous.status}, expected ${refusal}`);
      for (const role of ROLES) {
        const res = await send(operation, path, tokens.get(role));
        if (res.status >= 500) wrong.push(`${keyOf(operation)} as ${role}: ${res.status} ${JSON.stringify(res.body)}`);
        else if ('integration' in expectation) {
          if (res.status !== expectation.refusedWith) wrong.push(`${keyOf(operation)} as ${role}: ${res.status}, expected ${expectation.refusedWith} (integration token only)`);
        } else if (expectation.roles.includes(role)) {
          // A rule about the record may still refuse (only the requester edits a draft): that is not the role check.
          if (res.status === 401 || refusedForRole(res)) wrong.push(`${keyOf(operation)} as ${role}: ${res.status} ${res.body?.error?.message}, expected to be allowed`);
        } else if (!refusedForRole(res)) {
          wrong.push(`${keyOf(operation)} as ${role}: ${res.status} ${res.body?.error?.message}, expected the role check's 403`);
        }
      }
    }
    expect(wrong).toEqual([]);
  }, 180_000);
});

describe('what a client contact reaches through the routes open to them', () => {
  // Values of documented query parameters that ask for other clients' records.
  const ADVERSARIAL_QUERY: Record<string, string[]> = { client: ['globex'], service: ['gx-trading-portal'], ci: ['gx-trade-app-01'] };

  it('finds no other client\'s record, whatever the query asks for', async () => {
    const contact = tokens.get('client_contact')!;
    const leaks: string[] = [];
    const check = (label: string, res: supertest.Response) => {
      if (res.status >= 500) leaks.push(`${label}: ${res.status}`);
      else if (res.status < 300) for (const marker of foreignMarkers) if (marker.test(res.text)) leaks.push(`${label}: ${res.status} shows ${marker}`);
    };
    const reads = operations.filter((operation) => operation.method === 'get' && (EXPECTED[keyOf(operation)] as { roles?: readonly Role[] }).roles?.includes('client_contact'));
    expect(reads.length).toBeGreaterThan(5);
    for (const operation of reads) {
      const path = fill(operation.path, { ...own, client: 'northwind' });
      const plain = await send(operation, path, contact);
      expect(plain.status, `${keyOf(operation)} as the contact, on their own records`).toBe(200);
      check(keyOf(operation), plain);
      for (const parameter of operation.queryParameters) {
        const values = ADVERSARIAL_QUERY[parameter.name] ?? (parameter.schema.enum?.every((value) => typeof value === 'string') ? (parameter.schema.enum as string[]) : []);
        for (const value of values) {
          const query = `${parameter.name}=${encodeURIComponent(value)}`;
          check(`${keyOf(operation)}?${query}`, await http.get(`/api/v1${path}?${query}`).set(as(contact)));
        }
      }
    }
    expect(leaks).toEqual([]);
  });

  it('answers 404 for another client\'s record named in the path, on every route open to them', async () => {
    const contact = tokens.get('client_contact')!;
    const wrong: string[] = [];
    const reachable = operations.filter((operation) => (EXPECTED[keyOf(operation)] as { roles?: readonly Role[] }).roles?.includes('client_contact') && operation.path.includes('{'));
    for (const operation of reachable) {
      const expectation = EXPECTED[keyOf(operation)] as { contactProbeBody?: Record<string, unknown> };
      if (operation.method !== 'get' && !expectation.contactProbeBody) {
        wrong.push(`${keyOf(operation)}: a write open to client contacts needs a contactProbeBody`);
        continue;
      }
      const ghostPath = fill(operation.path, GHOST);
      if (ghostPath === fill(operation.path, { ...own, client: 'northwind' })) {
        wrong.push(`${keyOf(operation)}: no record of another client for its path parameters; teach fill() about them`);
        continue;
      }
      // Another client's record must look exactly like one that does not exist.
      const ghost = await send(operation, ghostPath, contact, expectation.contactProbeBody);
      const variants = operation.path.includes('/incidents/{id}') ? foreign.incidents.map((incident) => ({ incident, change: foreign.change, client: 'globex' })) : [{ incident: foreign.incidents[0]!, change: foreign.change, client: 'globex' }];
      for (const records of variants) {
        const path = fill(operation.path, records);
        const res = await send(operation, path, contact, expectation.contactProbeBody);
        const expected = JSON.stringify(ghost.body).replaceAll(GHOST.incident, records.incident).replaceAll(GHOST.change, records.change).replaceAll(GHOST.client, records.client);
        if (ghost.status !== 404 || res.status !== 404 || JSON.stringify(res.body) !== expected) wrong.push(`${operation.method.toUpperCase()} ${path}: ${res.status} ${res.text.slice(0, 200)} (a record that does not exist: ${ghost.status} ${ghost.text.slice(0, 200)})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps the triage queue from client contacts, and gives it to staff', async () => {
    const queue = await http.get('/api/v1/incidents?triage=true').set(as(tokens.get('client_contact')!));
    expect(queue.status).toBe(403);
    expect(queue.body.error.message).toBe('the triage queue is for staff only');
    const staff = await http.get('/api/v1/incidents?triage=true').set(as(tokens.get('service_desk')!));
    expect(staff.body.items.map((incident: { id: string }) => incident.id)).toEqual([foreign.incidents[1]]);
    // Filters only narrow what the caller sees: the contact's own client and a client filter together are still only theirs.
    const mixed = await http.get('/api/v1/incidents?client=globex').set(as(tokens.get('client_contact')!));
    expect(mixed.body.items).toEqual([]);
  });
});
