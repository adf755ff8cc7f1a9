import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let adminToken: string;
let serviceDeskToken: string;
let northwindContactToken: string;

beforeAll(async () => {
  t = await startTestApp();
  adminToken = await t.tokenFor('admin');
  serviceDeskToken = await t.tokenFor('service_desk');
  northwindContactToken = await t.tokenFor('client_contact', { clientId: 'northwind' });
});
afterAll(async () => t?.close());

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('authentication', () => {
  it('answers 401 with a JSON error body and no stack trace when credentials are missing or wrong', async () => {
    const missing = await t.http.get('/api/v1/me');
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ error: { code: 'unauthenticated', message: 'authentication required' } });

    const wrong = await t.http.get('/api/v1/me').set(bearer('idt_not-a-real-token-at-all-000000000'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthenticated');
    expect(JSON.stringify(wrong.body)).not.toMatch(/at .*\.ts:\d+/);

    const basic = await t.http.get('/api/v1/me').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(basic.status).toBe(401);
  });

  it('accepts a valid token and tells who the caller is', async () => {
    const me = await t.http.get('/api/v1/me').set(bearer(serviceDeskToken));
    expect(me.status).toBe(200);
    expect(me.body.roles).toEqual(['service_desk']);
    expect(me.body.clientId).toBeNull();
  });

  it('stops accepting a token after rotation and all tokens of a disabled user', async () => {
    const email = 'rotating.user@test.example';
    const oldToken = await t.tokenFor('tier2', { email });
    const newToken = await t.app.services.users.rotateToken(email, { type: 'system', name: 'test' });
    expect((await t.http.get('/api/v1/me').set(bearer(oldToken))).status).toBe(401);
    expect((await t.http.get('/api/v1/me').set(bearer(newToken))).status).toBe(200);

    await t.app.services.users.disableUser(email, { type: 'system', name: 'test' });
    expect((await t.http.get('/api/v1/me').set(bearer(newToken))).status).toBe(401);
  });
});

describe('role checks (default deny)', () => {
  it.each([
    ['/api/v1/access-review'],
    ['/api/v1/audit'],
    ['/api/v1/audit/export'],
    ['/api/v1/users'],
  ])('GET %s is for admins only', async (route) => {
    const desk = await t.http.get(route).set(bearer(serviceDeskToken));
    expect(desk.status).toBe(403);
    expect(desk.body.error.code).toBe('forbidden');
    expect(desk.body.error.message).toContain('admin');
    const contact = await t.http.get(route).set(bearer(northwindContactToken));
    expect(contact.status).toBe(403);
    const admin = await t.http.get(route).set(bearer(adminToken));
    expect(admin.status).toBe(200);
  });

  it('keeps configuration items from client contacts', async () => {
    expect((await t.http.get('/api/v1/configuration-items').set(bearer(northwindContactToken))).status).toBe(403);
    const staff = await t.http.get('/api/v1/configuration-items').set(bearer(serviceDeskToken));
    expect(staff.status).toBe(200);
    expect(staff.body.length).toBeGreaterThan(10);
  });

  it('only lets admins reload the configuration', async () => {
    expect((await t.http.post('/-/reload')).status).toBe(401);
    expect((await t.http.post('/-/reload').set(bearer(serviceDeskToken))).status).toBe(403);
    expect((await t.http.post('/-/reload').set(bearer(adminToken))).status).toBe(200);
  });

  it('lists every role grant with since-when in the access review', async () => {
    const review = await t.http.get('/api/v1/access-review').set(bearer(adminToken));
    const contact = review.body.grants.find((g: { role: string }) => g.role === 'client_contact');
    expect(contact).toMatchObject({ role: 'client_contact', clientId: 'northwind', grantedBy: 'test', active: true, revokedAt: null });
    expect(Date.parse(contact.grantedAt)).not.toBeNaN();
    const disabled = review.body.grants.find((g: { user: { email: string } }) => g.user.email === 'rotating.user@test.example');
    expect(disabled?.active).toBe(false);
  });

  it('has the periodic review signed off, recorded in the audit trail, and reminds admins once it is overdue (ACC-01)', async () => {
    const before = (await t.http.get('/api/v1/access-review').set(bearer(adminToken))).body;
    expect(before.lastSignOff).toBeNull();
    expect((await t.http.post('/api/v1/access-review/sign-off').set(bearer(serviceDeskToken)).send({ note: 'looked fine' })).status).toBe(403);
    expect((await t.http.post('/api/v1/access-review/sign-off').set(bearer(adminToken)).send({})).status).toBe(400);
    const signed = await t.http.post('/api/v1/access-review/sign-off').set(bearer(adminToken)).send({ note: 'Q1 review: removed two leavers' });
    expect(signed.status).toBe(201);
    expect(signed.body.lastSignOff).toMatchObject({ note: 'Q1 review: removed two leavers' });
    expect(Date.parse(signed.body.nextDueAt) - Date.parse(signed.body.lastSignOff.at)).toBe(90 * 86_400_000);
    const [row] = await t.orm.em.fork().getConnection().execute<{ after: { activeGrants: string[] } }[]>("select after from audit_event where action = 'access_review.signed_off'");
    expect(row!.after.activeGrants).toEqual(expect.arrayContaining([expect.stringMatching(/:client_contact:northwind$/)]));

    const reminders = t.app.services.accessReview.reminders;
    const reminded = async () => Number((await t.orm.em.fork().getConnection().execute<{ count: string }[]>("select count(*) from notification where kind = 'access.review_due'"))[0]!.count);
    expect(await reminders.run(new Date(Date.now() + 86_400_000))).toBe(true);
    expect(await reminded()).toBe(0);
    const later = new Date(Date.parse(signed.body.nextDueAt) + 3_600_000);
    t.clock.set(later);
    expect(await reminders.run(later)).toBe(true);
    expect(await reminded()).toBeGreaterThan(0);
  });
});

describe('client_contact isolation', () => {
  it('shows a client contact only their own client', async () => {
    const staff = await t.http.get('/api/v1/clients').set(bearer(serviceDeskToken));
    expect(staff.body.map((c: { id: string }) => c.id).sort()).toEqual(['acme-health', 'globex', 'northwind']);

    const contact = await t.http.get('/api/v1/clients').set(bearer(northwindContactToken));
    expect(contact.body.map((c: { id: string }) => c.id)).toEqual(['northwind']);
  });

  it('answers 404 for another client, exactly as for a client that does not exist', async () => {
    const other = await t.http.get('/api/v1/clients/globex').set(bearer(northwindContactToken));
    const missing = await t.http.get('/api/v1/clients/no-such-client').set(bearer(northwindContactToken));
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(other.body.error.code).toBe(missing.body.error.code);
    const own = await t.http.get('/api/v1/clients/northwind').set(bearer(northwindContactToken));
    expect(own.status).toBe(200);
    expect(own.body.services.every((s: { client: string }) => s.client === 'northwind')).toBe(true);
  });

  it('filters services to the contact\'s client even when asked for another', async () => {
    const res = await t.http.get('/api/v1/services?client=globex').set(bearer(northwindContactToken));
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('refuses to bind a client contact to an unknown client', async () => {
    await expect(
      t.app.services.users.addUser({ name: 'X', email: 'x@test.example', roles: ['client_contact'], clientId: 'nope' }, { type: 'system', name: 'test' }),
    ).rejects.toMatchObject({ status: 400, details: [{ path: 'client', message: 'unknown client "nope"' }] });
  });
});

describe('bad requests', () => {
  it('answers 404 JSON for unknown API routes', async () => {
    const res = await t.http.get('/api/v1/does-not-exist').set(bearer(adminToken));
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'no route for GET /api/v1/does-not-exist' } });
  });

  it('answers 400 with the parse problem for malformed JSON, without a stack trace', async () => {
    const res = await t.http.post('/-/reload').set(bearer(adminToken)).set('Content-Type', 'application/json').send('{"broken": ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('malformed_json');
    expect(res.body.error.message).toMatch(/not valid JSON/);
    expect(res.text).not.toMatch(/node_modules|at Object\./);
  });

  it('validates query parameters with a list of problems', async () => {
    const res = await t.http.get('/api/v1/audit?limit=0&since=yesterday-ish').set(bearer(adminToken));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const paths = res.body.error.details.map((d: { path: string }) => d.path).sort();
    expect(paths).toEqual(['limit', 'since']);
  });

  it('answers 4xx, never 500, for input the HTTP stack refuses', async () => {
    const undecodable = await t.http.get('/api/v1/clients/%E0%A4%A').set(bearer(adminToken));
    expect(undecodable.status).toBe(400);
    const manyFields = await t.http.post('/login').type('form').send(Array.from({ length: 1500 }, (_, i) => `f${i}=x`).join('&'));
    expect(manyFields.status).toBe(413);
    const hugeId = await t.http.get('/api/v1/audit?after=99999999999999999999999').set(bearer(adminToken));
    expect(hugeId.status).toBe(400);
  });

  it('sets security headers', async () => {
    const res = await t.http.get('/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});
