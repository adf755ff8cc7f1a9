import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, rfc, startChangeTestApp } from './change-fixtures';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let manager: string;
let browser: supertest.Agent;
let scheduled: string;

/** A browser signed in with a password session, like staff in front of the page. */
async function signedIn(email: string) {
  const actor = { type: 'system' as const, name: 'test' };
  const user = await t.app.services.users.addUser({ name: 'Carla Change', email, roles: ['change_manager'] }, actor);
  await t.app.services.users.changePassword(user.id, user.password, 'correct horse battery staple', actor);
  const agent = supertest.agent(t.app.handleRequest);
  const page = await agent.get('/login');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
  await agent.post('/login').type('form').send({ email, password: 'correct horse battery staple', _csrf: csrf }).expect(303);
  return agent;
}

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
  browser = await signedIn('carla@test.example');
  scheduled = await steps.scheduled(requester, manager, rfc({ title: 'Upgrade <nginx> & friends' }));
});
afterAll(async () => t?.close());

describe('forward schedule of change page (SCH-05)', () => {
  it('asks for a sign-in, and is for staff only', async () => {
    const anonymous = await supertest(t.app.handleRequest).get('/changes/calendar?view=week');
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toBe('/login?next=%2Fchanges%2Fcalendar%3Fview%3Dweek');
    const contact = await t.tokenFor('client_contact', { clientId: 'northwind' });
    expect((await t.http.get('/changes/calendar').set(as(contact))).status).toBe(403);
  });

  it('shows a month in the client\'s time zone, escaped, without scripts, with the client\'s feed', async () => {
    const res = await browser.get('/changes/calendar?client=northwind&date=2026-03-10');
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.text).not.toContain('<script');
    expect(res.text).toContain('<h2>March 2026 <small>(Europe/London)</small></h2>');
    const cell = /<td class="[^"]*" data-date="2026-03-10">([\s\S]*?)<\/td>/.exec(res.text)![1]!;
    expect(cell).toContain(`<strong>${scheduled}</strong> Upgrade &lt;nginx&gt; &amp; friends`);
    expect(cell).toContain('10 Mar 20:00 - 10 Mar 23:00');
    // The month grid runs Monday to Sunday: 23 Feb - 5 Apr.
    expect(res.text).toContain('data-date="2026-02-23"');
    expect(res.text).toContain('data-date="2026-04-05"');
    // Handlebars escapes = as &#x3D; in attributes.
    expect(res.text.replace(/&#x3D;/g, '=')).toContain('href="/changes/calendar?view=month&amp;date=2026-02-10&amp;client=northwind" rel="prev"');
    const feed = /href="http:\/\/[^/]+(\/api\/v1\/changes\/calendar\.ics\?client=northwind&amp;token=[^"]+)"/.exec(res.text.replace(/&#x3D;/g, '='))![1]!.replace(/&amp;/g, '&');
    expect(res.text).not.toContain('calendar.ics?client=globex');
    const ics = await supertest(t.app.handleRequest).get(feed);
    expect(ics.status).toBe(200);
    expect(ics.text).toContain(`SUMMARY:${scheduled}: Upgrade <nginx> & friends`);
  });

  it('has a week view, filters by client and shows the client\'s freezes', async () => {
    const week = await browser.get('/changes/calendar?view=week&date=2026-03-12');
    expect(week.text).toContain('Week of 9 March 2026');
    expect(week.text).toContain(scheduled);
    expect(week.text).toContain('<th scope="col">Tue 10 Mar</th>');
    expect((await browser.get('/changes/calendar?view=week&date=2026-03-17')).text).toContain('No changes are scheduled in this period.');
    const globex = await browser.get('/changes/calendar?client=globex&date=2026-03-31');
    expect(globex.text).not.toContain(scheduled);
    expect(/data-date="2026-03-31">[\s\S]*?Freeze: Globex Q1 financial close/.test(globex.text)).toBe(true);
    expect(globex.text).not.toMatch(/data-date="2026-03-29">\s*<div class="day">29<\/div>\s*<div class="freeze">/);
  });

  it('refuses bad parameters with 400', async () => {
    expect((await browser.get('/changes/calendar?view=year')).status).toBe(400);
    expect((await browser.get('/changes/calendar?client=nobody')).status).toBe(400);
  });
});
