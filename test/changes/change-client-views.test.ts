import ical from 'node-ical';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, rfc, startChangeTestApp } from './change-fixtures';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let manager: string;

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
