import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { as, changeSteps, rfc } from '../changes/change-fixtures';
import { AM_TOKEN, GENERIC_TOKEN, alertmanagerPayload } from '../support/alert-payloads';
import { writeConfig } from '../support/daemon-process';
import { listenWithRealtime } from '../support/realtime-server';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * Property: whatever a caller sends to the alert intake or a main write route, the answer
 * is never a 5xx other than 503 (retry later). Seeded so a failure replays: the seed and
 * the number of inputs are printed; FUZZ_SEED and FUZZ_RUNS override them. Bounded: a
 * fixed number of inputs, and a time limit in case the machine is slow.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20260302);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 10_000);

const GRAFANA_TOKEN = 'grafana-token-for-tests-000';
const DEPLOY_TOKEN = 'dev-only-change-events-token-change-me';

let t: TestApp;
let server: Awaited<ReturnType<typeof listenWithRealtime>>;
let staff: string;
let ids: { incident: string; change: string; review: number };

beforeAll(async () => {
  const config = writeConfig({
    integrations: [
      { name: 'alertmanager', type: 'alertmanager', token: AM_TOKEN },
      { name: 'grafana', type: 'grafana', token: GRAFANA_TOKEN },
      { name: 'scripts', type: 'generic', token: GENERIC_TOKEN },
      { name: 'deploys', type: 'change_events', token: DEPLOY_TOKEN },
    ],
  });
  t = await startTestApp({ configFile: config });
  // One user who may call every route below, so the inputs reach validation rather than 403.
  staff = await t.tokenFor(['admin', 'incident_manager', 'change_manager', 'service_desk', 'tier2'], { email: 'fuzz@test.example' });
  await t.tokenFor('implementer', { email: 'impl@test.example' });
  const incident = (await t.http.post('/api/v1/incidents').set(as(staff)).send({ title: 'Fuzz target', client: 'northwind', services: ['nw-webshop'], severity: 3, source: 'phone' }).expect(201)).body.id as string;
  const reviewed = (await t.http.post('/api/v1/incidents').set(as(staff)).send({ title: 'Fuzz review target', client: 'northwind', severity: 3, source: 'phone' }).expect(201)).body.id as string;
  await t.http.post(`/api/v1/incidents/${reviewed}/transition`).set(as(staff)).send({ to: 'resolved', resolutionSummary: 'restarted' }).expect(200);
  const review = (await t.http.post(`/api/v1/incidents/${reviewed}/review`).set(as(staff)).send({}).expect(201)).body.id as number;
  const change = (await changeSteps(t).create(staff, rfc())).id;
  ids = { incident, change, review };
  server = await listenWithRealtime(t);
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

interface Route {
  method: 'POST' | 'PATCH';
  /** `{id}` is replaced by the route's target, or by a generated string. */
  path: string;
  target: () => string;
  token: () => string;
  body: () => Record<string, unknown>;
}

const alert = () => alertmanagerPayload('{}:{alertname="FuzzAlert"}', [{ labels: { alertname: 'FuzzAlert', client: 'northwind', instance: 'nw-web-01', severity: 'warning' } }]);
const ROUTES: Route[] = [
  { method: 'POST', path: '/api/v1/alerts/alertmanager', target: () => '', token: () => AM_TOKEN, body: alert },
  { method: 'POST', path: '/api/v1/alerts/grafana', target: () => '', token: () => GRAFANA_TOKEN, body: () => ({ ...alert(), title: 'FuzzAlert', version: undefined }) },
  { method: 'POST', path: '/api/v1/alerts/generic', target: () => '', token: () => GENERIC_TOKEN, body: () => ({ summary: 'Disk full on nw-web-01', client: 'northwind', ci: 'nw-web-01', severity: 'warning', dedupKey: 'fuzz-disk', labels: { team: 'ops' } }) },
  { method: 'POST', path: '/api/v1/incidents', target: () => '', token: () => staff, body: () => ({ title: 'Checkout fails', description: 'Error 500', client: 'northwind', services: ['nw-webshop'], severity: 3, source: 'phone', reportedBy: 'Sam', impact: 'No orders', reportedAt: '2026-03-02T09:00:00Z' }) },
  { method: 'POST', path: '/api/v1/incidents/{id}/notes', target: () => ids.incident, token: () => staff, body: () => ({ text: 'Looking into it', visibility: 'internal' }) },
  { method: 'POST', path: '/api/v1/incidents/{id}/transition', target: () => ids.incident, token: () => staff, body: () => ({ to: 'investigating', reason: 'on it' }) },
  { method: 'POST', path: '/api/v1/incidents/{id}/tasks', target: () => ids.incident, token: () => staff, body: () => ({ title: 'Fail over', owner: 'fuzz@test.example', dueAt: '2026-03-02T12:00:00Z' }) },
  { method: 'POST', path: '/api/v1/changes', target: () => '', token: () => staff, body: () => rfc() },
  { method: 'PATCH', path: '/api/v1/changes/{id}', target: () => ids.change, token: () => staff, body: () => ({ description: 'Move to nginx 1.27', window: { start: '2026-03-10T20:00:00Z', end: '2026-03-10T23:00:00Z' }, implementers: ['impl@test.example'] }) },
  { method: 'PATCH', path: '/api/v1/reviews/{id}', target: () => String(ids.review), token: () => staff, body: () => ({ rootCause: 'A full disk', lessonsLearned: 'Alert earlier' }) },
  { method: 'POST', path: '/api/v1/reviews/{id}/actions', target: () => String(ids.review), token: () => staff, body: () => ({ title: 'Add disk alert', owner: 'fuzz@test.example', dueAt: '2026-04-01T00:00:00Z' }) },
  { method: 'POST', path: '/api/v1/change-events', target: () => '', token: () => DEPLOY_TOKEN, body: () => ({ id: 'fuzz-run', summary: 'shop 1.0', source: 'jenkins', ci: 'nw-web-01', time: '2026-03-02T09:00:00Z', links: ['https://ci.example/1'] }) },
  { method: 'POST', path: '/api/v1/cab/meetings', target: () => '', token: () => staff, body: () => ({ scheduledFor: '2026-03-05T14:00:00Z', attendees: ['fuzz@test.example'] }) },
  { method: 'POST', path: '/api/v1/oncall/{id}/overrides', target: () => 'service-desk-primary', token: () => staff, body: () => ({ email: 'fuzz@test.example', start: '2026-03-03T08:00:00Z', end: '2026-03-03T20:00:00Z' }) },
  { method: 'POST', path: '/api/v1/status-pages/{id}/overrides', target: () => 'northwind', token: () => staff, body: () => ({ component: 'nw-email', status: 'partial_outage', reason: 'provider incident' }) },
];

/** Strings that broke something somewhere: NUL, lone surrogates, absurd dates, huge and odd values. */
const nastyString = fc.oneof(
  fc.constantFrom(
    '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\ufffd', '', ' ', '\t\n', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00Z',
    '2026-02-30T00:00:00Z', '1970-01-01T00:00:00Z', '2026-03-02T10:00:00+25:00', 'NaN', '-1', '1e309', '__proto__', 'constructor', "'; drop table incident; --", '<script>alert(1)</script>',
    '%00', '../../etc/passwd', 'CHG-99999999999999999999', 'INC-0',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
/**
 * Long text for keys that end up in an index (fingerprint, group key) or hit a size limit.
 * Sent whole (JSON.stringify calls toJSON), printed short in a counterexample. Random text
 * too, because PostgreSQL compresses a repeated character enough to fit any index.
 */
class LongText {
  private static readonly cache = new Map<number, string>();
  constructor(
    readonly length: number,
    readonly random: boolean,
  ) {}

  toJSON(): string {
    if (!this.random) return 'é'.repeat(this.length);
    let text = LongText.cache.get(this.length) ?? '';
    while (text.length < this.length) text += createHash('sha256').update(String(text.length)).digest('hex');
    LongText.cache.set(this.length, text.slice(0, this.length));
    return LongText.cache.get(this.length)!;
  }

  [fc.toStringMethod](): string {
    return `LongText(${this.length}${this.random ? ', random' : ''})`;
  }
}
const longString = fc.tuple(fc.constantFrom(255, 2_700, 3_000, 100_000, 1_000_000), fc.boolean()).map(([length, random]) => new LongText(length, random));
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  longString,
  fc.constantFrom(null, true, false, 0, -1, 2 ** 31, 2 ** 53 + 1, 1e308, -1e308, 0.5),
  fc.array(nastyString, { maxLength: 3 }),
  fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
);

type Input =
  | { kind: 'field'; route: number; field: string; value: unknown }
  | { kind: 'body'; route: number; value: unknown }
  | { kind: 'raw'; route: number; bytes: number[] }
  | { kind: 'target'; route: number; target: string };

const routeIndex = fc.nat(ROUTES.length - 1);
const input: fc.Arbitrary<Input> = fc.oneof(
  // One field of a valid body replaced (or a new one added): the most common real mistake.
  // Mostly a field the route knows (an alert's own fields for the webhooks), sometimes any name.
  { weight: 6, arbitrary: routeIndex.chain((route) => fc.record({ kind: fc.constant('field' as const), route: fc.constant(route), field: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...fieldsOf(ROUTES[route]!)) }, nastyString), value: nastyValue })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('body' as const), route: routeIndex, value: nastyValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), route: routeIndex, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 }) }) },
  // A path parameter of any bytes, percent-encoded: invalid UTF-8 and NUL included.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('target' as const), route: routeIndex, target: fc.oneof(nastyString.map((text) => percentEncoded(Buffer.from(text))), fc.uint8Array({ maxLength: 12 }).map(percentEncoded)) }) },
);

const routeOf = (path: string) => ROUTES.findIndex((route) => route.path === path);
const NUL = 'before\u0000after';
/** The cases of issue 14 §2, tried first on every run whatever the seed; then the generated ones. */
const KNOWN_CASES: Input[] = [
  ...['title', 'description', 'reportedBy', 'impact'].map((field) => ({ kind: 'field' as const, route: routeOf('/api/v1/incidents'), field, value: NUL })),
  { kind: 'field', route: routeOf('/api/v1/incidents'), field: 'reportedAt', value: '9999-12-31T00:00:00Z' },
  { kind: 'field', route: routeOf('/api/v1/incidents/{id}/notes'), field: 'text', value: NUL },
  { kind: 'field', route: routeOf('/api/v1/changes'), field: 'implementationPlan', value: NUL },
  { kind: 'field', route: routeOf('/api/v1/changes'), field: 'implementers', value: [NUL] },
  { kind: 'field', route: routeOf('/api/v1/changes/{id}'), field: 'description', value: NUL },
  { kind: 'field', route: routeOf('/api/v1/reviews/{id}'), field: 'rootCause', value: NUL },
  { kind: 'field', route: routeOf('/api/v1/change-events'), field: 'summary', value: NUL },
  { kind: 'raw', route: routeOf('/api/v1/incidents'), bytes: [0xc3, 0x28, 0xff] },
  ...['/api/v1/alerts/alertmanager', '/api/v1/alerts/grafana'].flatMap((path) => [3_000, 1_000_000].map((length) => ({ kind: 'field' as const, route: routeOf(path), field: 'fingerprint', value: new LongText(length, true) }))),
];

function percentEncoded(bytes: Uint8Array): string {
  return [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

function fieldsOf(route: Route): string[] {
  const body = route.body();
  const alerts = Array.isArray(body.alerts) ? Object.keys(body.alerts[0] as object) : [];
  return [...new Set([...Object.keys(body), ...alerts, 'expectedVersion'])];
}

/** Where a field goes: Alertmanager-shaped bodies get it in their first alert too, where fingerprint and labels live. */
function withField(body: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...body, [field]: value };
  if (Array.isArray(body.alerts)) copy.alerts = [{ ...(body.alerts[0] as object), [field]: value }, ...body.alerts.slice(1)];
  return copy;
}

async function send(request: Input): Promise<number> {
  const route = ROUTES[request.route]!;
  const target = request.kind === 'target' ? request.target : route.target();
  const path = route.path.replace('{id}', target);
  let body: string | Buffer;
  if (request.kind === 'raw') {
    // Arbitrary bytes inside a valid body's text: invalid UTF-8, control bytes, broken JSON.
    const text = JSON.stringify(route.body());
    const cut = Math.floor(text.length / 2);
    body = Buffer.concat([Buffer.from(text.slice(0, cut)), Buffer.from(request.bytes), Buffer.from(text.slice(cut))]);
  } else {
    body = JSON.stringify(request.kind === 'field' ? withField(route.body(), request.field, request.value) : request.kind === 'body' ? request.value : route.body()) ?? 'null';
  }
  const res = await fetch(`${server.base}${path}`, { method: route.method, headers: { Authorization: `Bearer ${route.token()}`, 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

describe('fuzzing the intake and the main write routes', () => {
  it('never answers 5xx except 503', async () => {
    const statuses = new Map<number, number>();
    let inputs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(input, async (request) => {
          inputs += 1;
          const status = await send(request);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          return status < 500 || status === 503;
        }),
        { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, examples: KNOWN_CASES.map((known) => [known] as [Input]) },
      );
    } finally {
      const byStatus = [...statuses.entries()].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`).join(', ');
      console.log(`write-route fuzz: seed ${SEED}, ${inputs} inputs (FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} to replay); answers ${byStatus}`);
    }
    // The inputs reached the handlers: valid variants were accepted and bad ones refused.
    expect([...statuses.keys()].some((status) => status >= 200 && status < 300)).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(0);
  }, 60_000);
});
