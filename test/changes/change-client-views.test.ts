import ical from 'node-ical';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, rfc, startChangeTestApp } from './change-fixtures';

// Filled in by beforeAll: the app, the workflow steps and the people of startChangeTestApp().
let t: TestApp, steps: ReturnType<typeof changeSteps>, requester: string, manager: string;

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
});
afterAll(async () => t?.close());

/** One change for two clients: each may see only its own services. */
const twoClients = rfc({
  title: 'Move the mail relays',
  clients: ['northwind', 'globex'],
  services: ['nw-webshop', 'gx-trading-portal'],
  cis: ['nw-web-01', 'gx-exch-01'],
  expectedImpact: 'Mail delayed for a few minutes',
  window: { start: '2026-03-14T09:00:00Z', end: '2026-03-14T11:00:00Z' },
});

describe('a change affecting several clients (COM-01, SCH-05)', () => {
  let id: string;
  beforeAll(async () => {
    id = await steps.scheduled(requester, manager, twoClients);
  });

  it('tells each client only of its own services in e-mails', async () => {
    const notices = (await steps.outbox('change.scheduled')).filter((n) => n.subject.includes(id));
    const northwind = notices.find((n) => n.recipient === 'it-ops@northwind.example')!;
    const globex = notices.find((n) => n.recipient === 'servicemanagement@globex.example')!;
    expect(northwind.body).toContain('Services:   Web shop\n');
    expect(globex.body).toContain('Services:   Trading portal\n');
    for (const part of [northwind.body, northwind.html]) expect(part).not.toContain('Trading portal');
    for (const part of [globex.body, globex.html]) expect(part).not.toContain('Web shop');
  });

  it("shows a client's contact only that client's services in the API and the forward schedule", async () => {
    const contact = await t.tokenFor('client_contact', { clientId: 'northwind', email: 'priya.natarajan@northwind.example' });
    expect((await t.http.get(`/api/v1/changes/${id}`).set(as(contact))).body.services).toEqual(['nw-webshop']);
    const list = await t.http.get('/api/v1/changes').set(as(contact));
    expect(list.body.items.find((c: { id: string }) => c.id === id).services).toEqual(['nw-webshop']);
    const schedule = await t.http.get('/api/v1/changes/schedule?from=2026-03-14T00:00:00Z&to=2026-03-15T00:00:00Z').set(as(contact));
    expect(schedule.body.items.find((c: { id: string }) => c.id === id).services).toEqual(['nw-webshop']);
    const staffSchedule = await t.http.get('/api/v1/changes/schedule?client=globex&from=2026-03-14T00:00:00Z&to=2026-03-15T00:00:00Z').set(as(manager));
    expect(staffSchedule.body.items.find((c: { id: string }) => c.id === id).services).toEqual(['gx-trading-portal']);
  });

  it("names only the client's own services in its calendar feed", async () => {
    const feed = await t.http.get('/api/v1/changes/calendar-feeds/globex').set(as(manager));
    const url = new URL(feed.body.url);
    const ics = await t.http.get(`${url.pathname}${url.search}`);
    const event = (Object.values(ical.sync.parseICS(ics.text)) as ical.VEvent[]).find((entry) => entry?.type === 'VEVENT' && String(entry.summary).startsWith(id))!;
    expect(String(event.description)).toContain('Services: Trading portal');
    expect(ics.text).not.toContain('Web shop');
  });
});

describe('client approval links (CHG-06)', () => {
  // Acme Health approves every change; Northwind only high-risk ones.
  const plans = { implementationPlan: 'Install KB5034441', backoutPlan: 'Uninstall KB5034441', expectedImpact: 'File shares unavailable for 10 minutes' };
  const acmeAndNorthwind = rfc({ ...plans, title: 'Patch the file server', clients: ['acme-health', 'northwind'], services: ['ah-file-shares', 'nw-webshop'], cis: ['ah-fs-01', 'nw-web-01'], window: { start: '2026-03-22T14:00:00Z', end: '2026-03-22T16:00:00Z' } });
  /** The path of each link sent for this change to this approver, oldest first. */
  const linksFor = async (id: string, email: string) =>
    (await steps.outbox('change.approval_request')).filter((n) => n.subject.includes(id) && n.recipient === email).map((n) => /https?:\/\/[^/\s]+(\/changes\/approvals\/\S+)/.exec(n.body)![1]!);

  it("show the client approver only the client view: what, when, the client's own services, the impact", async () => {
    t.clock.set('2026-03-02T10:00:00Z');
    const id = await steps.awaitingApproval(requester, manager, acmeAndNorthwind);
    const [link] = await linksFor(id, 'kevin.obrien@acmehealth.example');
    const page = await t.http.get(link!);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Patch the file server');
    expect(page.text).toContain('File shares unavailable for 10 minutes');
    expect(page.text).toContain('File shares');
    for (const internal of ['Uninstall KB', 'Install KB', 'Backout', 'Risk', 'Web shop', 'nw-web-01', 'ah-fs-01', 'impl@test.example', 'req@test.example']) expect(page.text).not.toContain(internal);
  });

  it('answer 404 for a link of an earlier round, a used one and an expired one, revealing nothing', async () => {
    t.clock.set('2026-03-02T10:00:00Z');
    const id = await steps.awaitingApproval(requester, manager, acmeAndNorthwind);
    const [oldLink] = await linksFor(id, 'kevin.obrien@acmehealth.example');
    await steps.act(manager, id, 'reject', { rationale: 'patch the second server too' }).expect(200);
    await steps.act(requester, id, 'submit').expect(200);
    await steps.act(manager, id, 'assess', { notes: 'both servers now' }).expect(200);
    const [, current] = await linksFor(id, 'kevin.obrien@acmehealth.example');
    const [maria] = await linksFor(id, 'maria.lopez@acmehealth.example').then((links) => links.slice(1));

    for (const res of [await t.http.get(oldLink!), await t.http.post(oldLink!).type('form').send({ decision: 'approve', rationale: 'fine by us' })]) {
      expect(res.status).toBe(404);
      expect(res.text).not.toMatch(/change manager|change_manager|pending/);
    }

    await t.http.post(current!).type('form').send({ decision: 'approve', rationale: 'fine by us' }).expect(200);
    expect((await t.http.post(current!).type('form').send({ decision: 'reject', rationale: 'changed my mind' })).status).toBe(404);
    expect((await t.http.get(current!)).status).toBe(404);

    t.clock.set('2026-03-17T10:00:00Z');
    for (const res of [await t.http.get(maria!), await t.http.post(maria!).type('form').send({ decision: 'approve', rationale: 'late but fine' })]) {
      expect(res.status).toBe(404);
      expect(res.text).not.toContain('expired');
    }
  });
});
