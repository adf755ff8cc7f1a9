import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { addressKey } from '../../src/features/auth/login-throttle';
import { createLogger } from '../../src/platform/logger';
import { writeConfig } from '../support/daemon-process';
import { REPO_ROOT, startTestApp, type TestApp } from '../support/test-app';

// Small budgets, so a test reaches them in a few tries; behind one trusted proxy, so each
// request says which address it comes from.
const limits = { windowMs: 15 * 60_000, perAccount: 3, perAddress: 5, perDevice: 3 };
let t: TestApp;
const passwords = new Map<string, string>();

beforeAll(async () => {
  t = await startTestApp({ loginThrottle: limits, configFile: writeConfig({ server: { trustProxy: 1 } }) });
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'henry']) {
    const created = await t.app.services.users.addUser({ name, email: `${name}@test.example`, roles: ['tier2'] }, { type: 'system', name: 'test' });
    // Their own passwords (a one-time password's session could only choose one).
    passwords.set(name, `correct horse ${name} battery staple`);
    await t.app.services.users.changePassword(created.id, created.password, passwords.get(name)!, { type: 'system', name: 'test' });
  }
});
afterAll(async () => t?.close());

type Browser = ReturnType<typeof supertest.agent>;
/** A browser (its own cookies) on some app. */
const browser = (handler = t.app.handleRequest): Browser => supertest.agent(handler);

/** The sign-in form, filled in and sent from `address`. */
async function signIn(agent: Browser, name: string, password: string, address: string) {
  const page = await agent.get('/login').set('X-Forwarded-For', address);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
  return agent.post('/login').set('X-Forwarded-For', address).type('form').send({ email: `${name}@test.example`, password, _csrf: csrf });
}
const right = (name: string) => passwords.get(name)!;

describe('sign-in throttling', () => {
  it('is kept in PostgreSQL: another replica and a restarted daemon refuse the same account', async () => {
    for (let i = 0; i < limits.perAccount; i += 1) expect((await signIn(browser(), 'alice', `guess ${i}`, `198.51.100.${i + 1}`)).status).toBe(401);

    // A second daemon on the same database (a replica, or this one after a restart).
    const replica = await createApp({ configStore: t.configStore, orm: t.orm, clock: t.clock, logger: createLogger('silent'), rootDir: REPO_ROOT, loginThrottle: limits });
    const refused = await signIn(browser(replica.handleRequest), 'alice', right('alice'), '198.51.100.50');
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('Too many failed sign-ins for this account');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect((await signIn(browser(), 'alice', right('alice'), '198.51.100.51')).status).toBe(429);

    // Once the window is over, the right password works again.
    t.clock.advance(limits.windowMs);
    expect((await signIn(browser(replica.handleRequest), 'alice', right('alice'), '198.51.100.52')).status).toBe(303);
  });

  it('per account: guesses from many addresses stop new browsers, not the owner\'s own browser', async () => {
    const owners = browser();
    expect((await signIn(owners, 'bob', right('bob'), '192.0.2.10')).status).toBe(303);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await signIn(browser(), 'bob', `guess ${i}`, `203.0.113.${i + 1}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);

    expect((await signIn(owners, 'bob', right('bob'), '192.0.2.10')).status).toBe(303);
    expect((await signIn(browser(), 'bob', right('bob'), '192.0.2.10')).status).toBe(429);
  });

  it('per address: one attacker behind a NAT address does not lock out everyone behind it', async () => {
    const nat = '203.0.113.77';
    const carols = browser();
    expect((await signIn(carols, 'carol', right('carol'), nat)).status).toBe(303);

    // Password spraying: one guess per account, from the shared address.
    const statuses: number[] = [];
    for (const target of ['dave', 'erin', 'frank', 'grace', 'nobody', 'carol', 'alice']) statuses.push((await signIn(browser(), target, 'Spring2026!', nat)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);

    // Carol signs in from the browser she used before; the accounts themselves are not locked.
    expect((await signIn(carols, 'carol', right('carol'), nat)).status).toBe(303);
    expect((await signIn(browser(), 'dave', right('dave'), '198.51.100.99')).status).toBe(303);
    // A browser that never signed in waits for the window, and is told why.
    const stranger = await signIn(browser(), 'dave', right('dave'), nat);
    expect(stranger.status).toBe(429);
    expect(stranger.text).toContain('Too many failed sign-ins from your network');
  });

  it('gives a known browser a budget of its own, and a browser known for another account none', async () => {
    const erins = browser();
    expect((await signIn(erins, 'erin', right('erin'), '192.0.2.30')).status).toBe(303);
    for (let i = 0; i < limits.perAccount + 1; i += 1) await signIn(browser(), 'erin', `guess ${i}`, `198.51.100.${120 + i}`);
    expect((await signIn(browser(), 'erin', right('erin'), '192.0.2.31')).status).toBe(429);

    // Someone with Erin's browser but not her password: its own budget, then nothing.
    const guesses: number[] = [];
    for (let i = 0; i < limits.perDevice; i += 1) guesses.push((await signIn(erins, 'erin', `browser guess ${i}`, '192.0.2.30')).status);
    expect(guesses).toEqual([401, 401, 401]);
    expect((await signIn(erins, 'erin', right('erin'), '192.0.2.30')).status).toBe(429);

    // Frank's known browser is a stranger to Erin's account.
    const franks = browser();
    expect((await signIn(franks, 'frank', right('frank'), '192.0.2.40')).status).toBe(303);
    expect((await signIn(franks, 'erin', right('erin'), '192.0.2.40')).status).toBe(429);
  });

  it('counts a burst of parallel guesses exactly: no more than the budget is checked', async () => {
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => signIn(browser(), 'henry', `parallel ${i}`, `198.51.100.${200 + i}`)));
    const statuses = burst.map((res) => res.status).sort();
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429]);
  });

  it('never stores what was typed: counters are kept by hash', async () => {
    const rows = await t.orm.em.fork().getConnection().execute<{ key_hash: string; kind: string }[]>('select key_hash, kind from login_throttle');
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toMatch(/@test\.example|203\.0\.113/);
    expect(new Set(rows.map((row) => row.kind))).toEqual(new Set(['account', 'address', 'device']));
  });
});

describe('the address a client is counted by', () => {
  it('is the IPv4 address, or the /64 of an IPv6 address', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:2')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});
