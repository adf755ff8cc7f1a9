import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { as, changeSteps, rfc, startChangeTestApp } from '../changes/change-fixtures';
import { AM_TOKEN, alertmanagerPayload } from '../support/alert-payloads';
import { listenWithRealtime } from '../support/realtime-server';
import type { TestApp } from '../support/test-app';

// Text PostgreSQL cannot store, and bodies that are not UTF-8, answer 400 naming the field
// on every route: one check in the shared input parsing (src/platform/http/request-input.ts).

const DEPLOY_TOKEN = 'dev-only-change-events-token-change-me';
const NUL = 'before\u0000after';
const LONE_SURROGATE = 'before\ud800after';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let manager: string;
let desk: string;
let server: Awaited<ReturnType<typeof listenWithRealtime>>;

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
  desk = await t.tokenFor('incident_manager', { email: 'desk@test.example' });
  server = await listenWithRealtime(t);
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

const incident = (overrides: Record<string, unknown> = {}) => ({ title: 'Shop checkout fails', client: 'northwind', services: ['nw-webshop'], severity: 3, source: 'phone', reportedBy: 'Sam', impact: 'No orders', ...overrides });
const paths = (res: { body: { error?: { details?: { path: string }[] } } }) => res.body.error?.details?.map((detail) => detail.path);

async function openIncident() {
  const res = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident());
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** POSTs raw bytes over real HTTP (supertest would re-encode them). */
async function postBytes(path: string, token: string, bytes: Buffer) {
  const res = await fetch(`${server.base}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: bytes });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

describe('a NUL character answers 400 naming the field, on every route', () => {
  it('in each free-text field of a new incident', async () => {
    for (const field of ['title', 'description', 'reportedBy', 'impact']) {
      const res = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident({ [field]: NUL }));
      expect(res.status, field).toBe(400);
      expect(res.body.error.details).toContainEqual({ path: field, message: 'contains a NUL character (\\u0000), which cannot be stored' });
    }
  });

  it('listed together with the schema\'s problems, every problem at once', async () => {
    const res = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident({ description: NUL, severity: 7 }));
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['description', 'severity']);
  });

  it('in notes, transitions and the other incident actions', async () => {
    const id = await openIncident();
    const cases: [string, Record<string, unknown>, string][] = [
      ['notes', { text: NUL }, 'text'],
      ['transition', { to: 'resolved', resolutionSummary: NUL }, 'resolutionSummary'],
      ['updates', { message: `Checkout ${NUL}` }, 'message'],
      ['severity', { severity: 2, reason: NUL }, 'reason'],
    ];
    for (const [action, body, field] of cases) {
      const res = await t.http.post(`/api/v1/incidents/${id}/${action}`).set(as(desk)).send(body);
      expect(res.status, action).toBe(400);
      expect(paths(res), action).toContain(field);
    }
  });

  it('in every text field of a change, on create and on PATCH, implementers included', async () => {
    const fields = ['title', 'description', 'justification', 'implementationPlan', 'testPlan', 'testResults', 'backoutPlan', 'communicationPlan', 'expectedImpact', 'vendor'];
    for (const field of fields) {
      const res = await t.http.post('/api/v1/changes').set(as(requester)).send(rfc({ [field]: NUL }));
      expect(res.status, field).toBe(400);
      expect(paths(res), field).toContain(field);
    }
    const implementers = await t.http.post('/api/v1/changes').set(as(requester)).send(rfc({ implementers: [NUL] }));
    expect(implementers.status).toBe(400);
    expect(paths(implementers)).toContain('implementers.0');

    const { id } = await steps.create(requester, rfc());
    for (const field of fields) {
      const res = await t.http.patch(`/api/v1/changes/${id}`).set(as(requester)).send({ [field]: NUL });
      expect(res.status, field).toBe(400);
      expect(paths(res), field).toContain(field);
    }
  });

  it('in a post-incident review (PATCH) and its action items', async () => {
    const id = await openIncident();
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as(desk)).send({ to: 'resolved', resolutionSummary: 'restarted' }).expect(200);
    const review = await t.http.post(`/api/v1/incidents/${id}/review`).set(as(desk)).send({});
    expect(review.status).toBe(201);
    for (const field of ['rootCause', 'contributingFactors', 'wentWell', 'wentBadly', 'lessonsLearned']) {
      const res = await t.http.patch(`/api/v1/reviews/${review.body.id}`).set(as(desk)).send({ [field]: NUL });
      expect(res.status, field).toBe(400);
      expect(paths(res), field).toContain(field);
    }
    const action = await t.http.post(`/api/v1/reviews/${review.body.id}/actions`).set(as(desk)).send({ title: NUL, owner: 'desk@test.example', dueAt: '2026-03-20T00:00:00Z' });
    expect(action.status).toBe(400);
    expect(paths(action)).toContain('title');
  });

  it('in a change event from CI/CD', async () => {
    const res = await t.http.post('/api/v1/change-events').set(as(DEPLOY_TOKEN)).send({ id: 'run-nul', summary: NUL, source: 'jenkins', ci: 'nw-web-01', time: '2026-03-02T09:00:00Z' });
    expect(res.status).toBe(400);
    expect(paths(res)).toContain('summary');
  });

  it('in an object key, a path parameter and a query parameter', async () => {
    const key = await t.http.post('/api/v1/incidents').set(as(desk)).send({ ...incident(), [`ti${NUL}`]: 'x' });
    expect(key.status).toBe(400);
    expect(key.body.error.details[0].message).toMatch(/^its name contains a NUL character/);
    const param = await t.http.get('/api/v1/status-pages/north%00wind/overrides').set(as(desk));
    expect(param.status).toBe(400);
    expect(param.body.error.message).toBe('invalid path parameters');
    const query = await t.http.get('/api/v1/incidents?client=north%00wind').set(as(desk));
    expect(query.status).toBe(400);
    expect(paths(query)).toEqual(['client']);
  });

  it('in a form read without a schema: signing in answers 400, not 500', async () => {
    const browser = supertest.agent(t.app.handleRequest);
    const page = await browser.get('/login');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    const res = await browser.post('/login').type('form').send({ email: `desk${NUL}@test.example`, password: 'whatever-it-is', _csrf: csrf });
    expect(res.status).toBe(400);
    expect(res.text).toContain('invalid request body');
  });

  it('and a lone surrogate (which would be stored as U+FFFD) answers 400 too, while real Unicode is stored as sent', async () => {
    const res = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident({ description: LONE_SURROGATE }));
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual({ path: 'description', message: 'contains invalid Unicode (an unpaired surrogate such as \\ud800)' });
    const text = 'Kasse gestört 🚒 結帳失敗 \ufffd tab\there';
    const ok = await t.http.post('/api/v1/incidents').set(as(desk)).send(incident({ title: text, description: text }));
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ title: text, description: text });
  });
});

describe('a body that is not valid UTF-8 answers 400 instead of being stored with U+FFFD', () => {
  const withBadBytes = (json: string) => {
    const [head, tail] = json.split('@@');
    return Buffer.concat([Buffer.from(head!, 'utf8'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(tail!, 'utf8')]);
  };

  it('on the user API', async () => {
    const bad = await postBytes('/api/v1/incidents', desk, withBadBytes(JSON.stringify(incident({ title: 'Shop @@ down' }))));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_utf8', message: expect.stringMatching(/^request body is not valid UTF-8 \(bad byte sequence near byte \d+\)/) });
    // The same body in valid UTF-8 is fine.
    const good = await postBytes('/api/v1/incidents', desk, Buffer.from(JSON.stringify(incident({ title: 'Shop ä down' })), 'utf8'));
    expect(good.status).toBe(201);
  });

  it('on the alert and change-event webhooks', async () => {
    const alert = alertmanagerPayload('{}:{alertname="Bytes"}', [{ labels: { alertname: 'Bytes', client: 'northwind', instance: 'nw-web-01' }, annotations: { summary: '@@' } }]);
    expect((await postBytes('/api/v1/alerts/alertmanager', AM_TOKEN, withBadBytes(JSON.stringify(alert)))).body.error?.code).toBe('invalid_utf8');
    const event = { id: 'run-bytes', summary: 'shop @@', source: 'jenkins', ci: 'nw-web-01', time: '2026-03-02T09:00:00Z' };
    const res = await postBytes('/api/v1/change-events', DEPLOY_TOKEN, withBadBytes(JSON.stringify(event)));
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_utf8');
    expect((await t.http.get('/api/v1/change-events').set(as(manager))).body.items.map((e: { eventId: string }) => e.eventId)).not.toContain('run-bytes');
  });
});
