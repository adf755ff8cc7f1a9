import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
const system = { type: 'system' as const, name: 'test' };

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

/** A user with a password of their own, and the API token they were given. */
async function person(name: string) {
  const created = await t.app.services.users.addUser({ name, email: `${name}@test.example`, roles: ['tier2'] }, system);
  const password = `correct horse ${name} battery staple`;
  await t.app.services.users.changePassword(created.id, created.password, password, system);
  return { id: created.id, email: created.email, password, token: created.token };
}

const csrfFrom = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

/** A browser signed in as `email`. */
async function signedIn(email: string, password: string) {
  const browser = supertest.agent(t.app.handleRequest);
  const page = await browser.get('/login');
  expect((await browser.post('/login').type('form').send({ email, password, _csrf: csrfFrom(page.text) })).status).toBe(303);
  return browser;
}

const me = (browser: ReturnType<typeof supertest.agent>) => browser.get('/api/v1/me').then((res) => res.status);
const withToken = (token: string) => t.http.get('/api/v1/me').set('Authorization', `Bearer ${token}`).then((res) => res.status);
const sessionsOf = async (userId: number) => Number((await t.orm.em.fork().getConnection().execute<{ count: string }[]>('select count(*) from web_session where user_id = ?', [userId]))[0]!.count);

describe('changing a password', () => {
  it('ends every other session of the user, keeps the one it was changed from, and revokes API tokens only when asked', async () => {
    const mia = await person('mia');
    const laptop = await signedIn(mia.email, mia.password);
    const stolen = await signedIn(mia.email, mia.password);
    expect(await me(stolen)).toBe(200);

    const form = await laptop.get('/account/password');
    expect(form.text).toContain('Saving signs you out everywhere else');
    expect(form.text).toContain('Also revoke my API tokens (1 active)');
    const newPassword = 'a much longer and newer passphrase';
    const changed = await laptop.post('/account/password').type('form').send({ _csrf: csrfFrom(form.text), currentPassword: mia.password, newPassword, confirmPassword: newPassword });
    expect(changed.status).toBe(303);

    expect(await me(laptop)).toBe(200);
    expect(await me(stolen)).toBe(401);
    expect(await sessionsOf(mia.id)).toBe(1);
    // Not asked to: the token keeps working.
    expect(await withToken(mia.token)).toBe(200);

    // The second time, with the tokens.
    const phone = await signedIn(mia.email, newPassword);
    const again = await laptop.get('/account/password');
    const newest = 'the newest passphrase of them all';
    expect((await laptop.post('/account/password').type('form').send({ _csrf: csrfFrom(again.text), currentPassword: newPassword, newPassword: newest, confirmPassword: newest, revokeTokens: 'yes' })).status).toBe(303);
    expect(await me(phone)).toBe(401);
    expect(await withToken(mia.token)).toBe(401);
    expect(await me(laptop)).toBe(200);
    // Nothing left to revoke: nothing offered.
    expect((await laptop.get('/account/password')).text).not.toContain('Also revoke my API tokens');

    const audit = await t.orm.em.fork().getConnection().execute<{ after: unknown }[]>("select after from audit_event where action = 'user.password_changed' and entity_id = ? order by id", [String(mia.id)]);
    expect(audit.map((row) => row.after)).toEqual([
      { otherSessionsEnded: 0, tokensRevoked: 0 }, // the one-time password replaced in person()
      { otherSessionsEnded: 1, tokensRevoked: 0 },
      { otherSessionsEnded: 1, tokensRevoked: 1 },
    ]);
  });
});

describe('disabling a user', () => {
  it('ends every session and revokes every API token at once', async () => {
    const noah = await person('noah');
    const browsers = [await signedIn(noah.email, noah.password), await signedIn(noah.email, noah.password)];
    expect(await sessionsOf(noah.id)).toBe(2);

    await t.app.services.users.disableUser(noah.email, system);
    expect(await sessionsOf(noah.id)).toBe(0);
    for (const browser of browsers) expect(await me(browser)).toBe(401);
    expect(await withToken(noah.token)).toBe(401);
    const tokens = await t.orm.em.fork().getConnection().execute<{ revoked_at: Date | null }[]>('select revoked_at from api_token where user_id = ?', [noah.id]);
    expect(tokens.every((token) => token.revoked_at !== null)).toBe(true);
  });
});
