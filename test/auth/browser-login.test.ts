import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { writeConfig } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let oneTimePassword: string;
const password = 'correct horse battery staple';
const email = 'alice.im@test.example';

beforeAll(async () => {
  t = await startTestApp();
  const alice = await t.app.services.users.addUser({ name: 'Alice', email, roles: ['incident_manager'] }, { type: 'system', name: 'test' });
  oneTimePassword = alice.password;
});
afterAll(async () => t?.close());

/** Reads the hidden CSRF field from the login or home page. */
function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF field on the page');
  return match[1]!;
}

describe('one-time password', () => {
  it('lets the first sign-in do nothing but choose a new password, then works with the new one', async () => {
    const browser = supertest.agent(t.app.handleRequest);
    const page = await browser.get('/login');
    const login = await browser.post('/login').type('form').send({ email, password: oneTimePassword, _csrf: csrfFrom(page.text) });
    expect(login.status).toBe(303);

    const api = await browser.get('/api/v1/me');
    expect(api.status).toBe(403);
    expect(api.body.error.code).toBe('password_change_required');
    const home = await browser.get('/');
    expect(home.status).toBe(303);
    expect(home.headers.location).toBe('/account/password');

    const form = await browser.get('/account/password');
    expect(form.text).toContain('You signed in with a one-time password');
    const csrf = csrfFrom(form.text);
    const tooShort = await browser.post('/account/password').type('form').send({ _csrf: csrf, currentPassword: oneTimePassword, newPassword: 'short', confirmPassword: 'short' });
    expect(tooShort.status).toBe(400);
    expect(tooShort.text).toContain('must be at least 12 characters');
    const wrongCurrent = await browser.post('/account/password').type('form').send({ _csrf: csrf, currentPassword: 'nope', newPassword: password, confirmPassword: password });
    expect(wrongCurrent.status).toBe(400);
    expect(wrongCurrent.text).toContain('the current password is wrong');

    const changed = await browser.post('/account/password').type('form').send({ _csrf: csrf, currentPassword: oneTimePassword, newPassword: password, confirmPassword: password });
    expect(changed.status).toBe(303);
    expect((await browser.get('/api/v1/me')).status).toBe(200);

    // The one-time password is spent.
    const again = supertest.agent(t.app.handleRequest);
    const loginPage = await again.get('/login');
    expect((await again.post('/login').type('form').send({ email, password: oneTimePassword, _csrf: csrfFrom(loginPage.text) })).status).toBe(401);
    const audit = await t.orm.em.fork().getConnection().execute<{ action: string }[]>("select action from audit_event where action = 'user.password_changed'");
    expect(audit).toHaveLength(1);
  });
});

describe('browser sign-in', () => {
  it('signs in with the form, uses the session cookie, and signs out', async () => {
    const browser = supertest.agent(t.app.handleRequest);
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
    const browser = supertest.agent(t.app.handleRequest);
    const page = await browser.get('/login');
    await browser.post('/login').type('form').send({ email, password, _csrf: csrfFrom(page.text) });
    const forged = await browser.post('/logout').type('form').send({});
    expect(forged.status).toBe(403);
    // The session is still valid: the forged request did nothing.
    expect((await browser.get('/api/v1/me')).status).toBe(200);
  });

  it('refuses a login form posted without its CSRF token', async () => {
    const browser = supertest.agent(t.app.handleRequest);
    await browser.get('/login');
    const res = await browser.post('/login').type('form').send({ email, password });
    expect(res.status).toBe(403);
  });

  it('never redirects to another site after sign-in', async () => {
    const browser = supertest.agent(t.app.handleRequest);
    const page = await browser.get('/login');
    const res = await browser.post('/login').type('form').send({ email, password, _csrf: csrfFrom(page.text), next: '//evil.example/steal' });
    expect(res.headers.location).toBe('/');
  });

  it('rate-limits failed sign-ins and says so', async () => {
    // Its own app, so failures elsewhere in this file do not count against the limit.
    const limited = await startTestApp({ loginThrottle: { perAccount: 3 } });
    onTestFinished(() => limited.close());
    const browser = supertest.agent(limited.app.handleRequest);
    const page = await browser.get('/login');
    const csrf = csrfFrom(page.text);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await browser.post('/login').type('form').send({ email, password: 'wrong password', _csrf: csrf });
      statuses.push(res.status);
      if (res.status === 429) expect(res.text).toContain('Too many failed sign-ins for this account');
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const metrics = await limited.scrapeMetrics();
    expect(metrics).toMatch(/incidentd_login_attempts_total\{result="rate_limited"\} 2/);
  });

  it('limits guesses per account too, whatever address they come from', async () => {
    // Behind one trusted proxy, each guess seems to come from another address.
    const proxied = await startTestApp({ loginThrottle: { perAccount: 3 }, configFile: writeConfig({ server: { trustProxy: 1 } }) });
    onTestFinished(() => proxied.close());
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const browser = supertest.agent(proxied.app.handleRequest);
      const page = await browser.get('/login').set('X-Forwarded-For', `203.0.113.${i}`);
      const res = await browser.post('/login').set('X-Forwarded-For', `203.0.113.${i}`).type('form').send({ email, password: `guess ${i}`, _csrf: csrfFrom(page.text) });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('does not count successful sign-ins against the limit', async () => {
    const limited = await startTestApp({ loginThrottle: { perAccount: 2, perAddress: 2 } });
    onTestFinished(() => limited.close());
    const bob = await limited.app.services.users.addUser({ name: 'Bob', email: 'bob@test.example', roles: ['tier2'] }, { type: 'system', name: 'test' });
    for (let i = 0; i < 4; i += 1) {
      const browser = supertest.agent(limited.app.handleRequest);
      const page = await browser.get('/login');
      expect((await browser.post('/login').type('form').send({ email: 'bob@test.example', password: bob.password, _csrf: csrfFrom(page.text) })).status).toBe(303);
    }
  });

  it('escapes what a person typed when the page is shown again', async () => {
    const browser = supertest.agent(t.app.handleRequest);
    const page = await browser.get('/login');
    const res = await browser.post('/login').type('form').send({ email: '"><script>alert(1)</script>', password: 'x', _csrf: csrfFrom(page.text) });
    expect(res.text).not.toContain('<script>alert(1)</script>');
    expect(res.text).toContain('&quot;&gt;&lt;script&gt;');
  });
});
