import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let password: string;
const email = 'alice.im@test.example';

beforeAll(async () => {
  t = await startTestApp({ loginRateLimit: { windowMs: 60_000, limit: 3 } });
  const alice = await t.app.services.users.addUser({ name: 'Alice', email, roles: ['incident_manager'] }, { type: 'system', name: 'test' });
  password = alice.password;
});
afterAll(async () => t?.close());

/** Reads the hidden CSRF field from the login or home page. */
function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF field on the page');
  return match[1]!;
}

describe('browser sign-in', () => {
  it('signs in with the form, uses the session cookie, and signs out', async () => {
    const browser = supertest.agent(t.app.express);
    const page = await browser.get('/login');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post" action="/login">');

    const login = await browser.post('/login').type('form').send({ email, password, _csrf: csrfFrom(page.text), next: '/api/v1/me' });
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/api/v1/me');
    const cookie = login.headers['set-cookie'] as unknown as string[];
    expect(cookie.find((c) => c.startsWith('incidentd_session='))).toMatch(/HttpOnly/);
    expect(cookie.find((c) => c.startsWith('incidentd_session='))).toMatch(/SameSite=Lax/);

    const me = await browser.get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email, roles: ['incident_manager'] });

    const home = await browser.get('/');
    expect(home.text).toContain('Signed in as <strong>Alice</strong>');
    const logout = await browser.post('/logout').type('form').send({ _csrf: csrfFrom(home.text) });
    expect(logout.status).toBe(303);
    expect((await browser.get('/api/v1/me')).status).toBe(401);
  });

  it('refuses a state-changing request from a session without the CSRF token', async () => {
    const browser = supertest.agent(t.app.express);
    const page = await browser.get('/login');
    await browser.post('/login').type('form').send({ email, password, _csrf: csrfFrom(page.text) });
    const forged = await browser.post('/logout').type('form').send({});
    expect(forged.status).toBe(403);
    // The session is still valid: the forged request did nothing.
    expect((await browser.get('/api/v1/me')).status).toBe(200);
  });

  it('refuses a login form posted without its CSRF token', async () => {
    const browser = supertest.agent(t.app.express);
    await browser.get('/login');
    const res = await browser.post('/login').type('form').send({ email, password });
    expect(res.status).toBe(403);
  });

  it('never redirects to another site after sign-in', async () => {
    const browser = supertest.agent(t.app.express);
    const page = await browser.get('/login');
    const res = await browser.post('/login').type('form').send({ email, password, _csrf: csrfFrom(page.text), next: '//evil.example/steal' });
    expect(res.headers.location).toBe('/');
  });

  it('rate-limits failed sign-ins and says so', async () => {
    const browser = supertest.agent(t.app.express);
    const page = await browser.get('/login');
    const csrf = csrfFrom(page.text);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await browser.post('/login').type('form').send({ email, password: 'wrong password', _csrf: csrf });
      statuses.push(res.status);
      if (res.status === 429) expect(res.text).toContain('Too many failed sign-in attempts');
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const metrics = await t.http.get('/metrics');
    expect(metrics.text).toMatch(/incidentd_login_attempts_total\{result="rate_limited"\} 2/);
  });

  it('escapes what a person typed when the page is shown again', async () => {
    const browser = supertest.agent(t.app.express);
    const page = await browser.get('/login');
    const res = await browser.post('/login').type('form').send({ email: '"><script>alert(1)</script>', password: 'x', _csrf: csrfFrom(page.text) });
    expect(res.text).not.toContain('<script>alert(1)</script>');
    expect(res.text).toContain('&quot;&gt;&lt;script&gt;');
  });
});
