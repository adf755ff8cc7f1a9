import { createHash } from 'node:crypto';
import ical, { type VEvent } from 'node-ical';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeRequest } from '../../src/platform/logger';
import { writeConfig } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

// On-call calendar feeds (issue 21 §4), read the way a calendar application reads them:
// over HTTP with the secret address, parsed by a real iCalendar parser (node-ical), across
// the spring-forward DST changes of Europe/London (2026-03-29) and America/New_York (2026-03-08).
const TOM = 'tom.baker@precision.example';
const LENA = 'lena.fischer@precision.example';
const OMAR = 'omar.haddad@precision.example';
const DANA = 'dana.white@precision.example';

let t: TestApp;
let admin: string;
let tom: string;
let lena: string;
let tomId: number;
/** Display names by e-mail (tokenFor names users "Test <role> <n>"). */
const names = new Map<string, string>();

beforeAll(async () => {
  const configFile = writeConfig({
    oncall: {
      rotations: [
        // The test clock starts on 2026-03-02; with members in this order Tom has 2026-03-28, the day before London's clocks go forward.
        { id: 'service-desk-primary', name: 'Service desk primary', timezone: 'Europe/London', handoff: 'daily', handoffTime: '08:00', start: '2026-01-05', members: [OMAR, TOM, LENA] },
        { id: 'tier2-weekly', name: 'Tier 2 on call', timezone: 'Europe/London', handoff: 'weekly', handoffDay: 'mon', handoffTime: '09:00', start: '2026-01-05', members: ['grace.kim@precision.example', 'marco.rossi@precision.example'] },
        // Tom has 2026-03-07 18:00 in New York, the evening before its clocks go forward.
        { id: 'us-evening', name: 'US evening', timezone: 'America/New_York', handoff: 'daily', handoffTime: '18:00', start: '2026-03-02', members: [DANA, TOM] },
      ],
      calendarFeeds: { lookBack: '7d', lookAhead: '45d' },
    },
  });
  t = await startTestApp({ configFile });
  admin = await t.tokenFor('admin');
  tom = await t.tokenFor('service_desk', { email: TOM });
  lena = await t.tokenFor('service_desk', { email: LENA });
  tomId = (await t.http.get('/api/v1/me').set('Authorization', `Bearer ${tom}`)).body.id;
  for (const user of (await t.http.get('/api/v1/users').set('Authorization', `Bearer ${admin}`)).body as { email: string; name: string }[]) names.set(user.email, user.name);
  // Lena covers part of Tom's shift of 28 March, across the moment the clocks go forward (01:00Z),
  // until 02:30 BST: an hour that exists only with the right VTIMEZONE.
  const override = await t.http.post('/api/v1/oncall/service-desk-primary/overrides').set('Authorization', `Bearer ${admin}`).send({ email: LENA, start: '2026-03-28T12:00:00Z', end: '2026-03-29T01:30:00Z', reason: 'swap' });
  expect(override.status).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

interface FeedAddresses {
  createdAt: string;
  shifts: string;
  rotations: { id: string; name: string; url: string }[];
}

async function newAddress(token: string): Promise<FeedAddresses> {
  const res = await t.http.post('/api/v1/oncall/calendar-feed').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(201);
  return res.body as FeedAddresses;
}

/** GET a feed address as a calendar application would: no credentials but the address. */
async function fetchFeed(url: string) {
  const { pathname, search } = new URL(url);
  return t.http.get(pathname + search);
}

/** A VEVENT as node-ical parsed it; `zone` is the zone it resolved the TZID to. */
interface ParsedEvent {
  start: Date;
  end: Date;
  zone: string | undefined;
  summary: string;
  description: string;
}

async function feed(url: string): Promise<{ text: string; events: ParsedEvent[] }> {
  const res = await fetchFeed(url);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/calendar/);
  const events = Object.values(ical.sync.parseICS(res.text))
    .filter((component): component is VEvent => component?.type === 'VEVENT')
    .map((event) => ({ start: event.start, end: event.end!, zone: event.start.tz, summary: String(event.summary), description: String(event.description) }))
    .sort((a, b) => a.start.getTime() - b.start.getTime());
  return { text: res.text, events };
}

const view = (event: ParsedEvent) => ({ start: event.start.toISOString(), end: event.end.toISOString(), summary: event.summary });

/**
 * Reads the VTIMEZONE blocks of a feed (RFC 5545 3.6.5) and turns an event's local time
 * into an instant with them, independently of node-ical's own zone lookup by name: a client
 * that only trusts the VTIMEZONE (Outlook) must land on the same instant.
 */
function vtimezoneInstant(text: string, zone: string, local: string): number {
  const block = text.split('BEGIN:VTIMEZONE').slice(1).map((part) => part.split('END:VTIMEZONE')[0]!).find((part) => part.includes(`TZID:${zone}\r\n`));
  if (!block) throw new Error(`no VTIMEZONE for ${zone}`);
  const asUtc = (stamp: string) => Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(9, 11), +stamp.slice(11, 13), +stamp.slice(13, 15));
  const minutes = (offset: string) => (offset.startsWith('-') ? -1 : 1) * (+offset.slice(1, 3) * 60 + +offset.slice(3, 5));
  const observances = [...block.matchAll(/BEGIN:(?:STANDARD|DAYLIGHT)\r\nDTSTART:(\d{8}T\d{6})\r\nTZOFFSETFROM:([+-]\d{4})\r\nTZOFFSETTO:([+-]\d{4})/g)]
    .map((match) => ({ onset: asUtc(match[1]!) - minutes(match[2]!) * 60_000, to: minutes(match[3]!) }))
    .sort((a, b) => a.onset - b.onset);
  const wall = asUtc(local);
  // The observance whose offset puts the local time inside its own period.
  const fits = observances.filter((observance, index) => {
    const instant = wall - observance.to * 60_000;
    return instant >= observance.onset && instant < (observances[index + 1]?.onset ?? Infinity);
  });
  if (fits.length === 0) throw new Error(`${local} is not covered by the VTIMEZONE of ${zone}`);
  return wall - fits[0]!.to * 60_000;
}

/** Every DTSTART/DTEND of the feed, through its VTIMEZONE, equals what node-ical made of it. */
function expectVtimezonesAgree(text: string, events: ParsedEvent[]) {
  const stamps = [...text.matchAll(/^DT(START|END);TZID=([^:]+):(\d{8}T\d{6})\r$/gm)];
  expect(stamps.length).toBe(events.length * 2);
  const parsed = events.flatMap((event) => [event.start.getTime(), event.end.getTime()]).sort();
  const fromVtimezone = stamps.map((match) => vtimezoneInstant(text, match[2]!, match[3]!)).sort();
  expect(fromVtimezone).toEqual(parsed);
}

describe("a person's feed", () => {
  it('holds their shifts of every rotation, at the local hand-off time on both sides of a DST change, with the override cut out', async () => {
    const addresses = await newAddress(tom);
    expect(addresses.shifts).toMatch(/^http:\/\/127\.0\.0\.1:8080\/api\/v1\/oncall\/calendar\/shifts\.ics\?token=idc_[\w-]{43}$/);
    const { text, events } = await feed(addresses.shifts);
    const shifts = events.map(view);

    // New York, 7 March 18:00 EST to 8 March 18:00 EDT: 23 hours.
    expect(shifts).toContainEqual({ start: '2026-03-07T23:00:00.000Z', end: '2026-03-08T22:00:00.000Z', summary: 'On call: US evening' });
    expect(text).toContain('DTSTART;TZID=America/New_York:20260307T180000\r\nDTEND;TZID=America/New_York:20260308T180000');
    // London, 28 March from 08:00 GMT, Lena's override 12:00 GMT - 02:30 BST cut out, then Tom until 08:00 BST.
    expect(shifts).toContainEqual({ start: '2026-03-28T08:00:00.000Z', end: '2026-03-28T12:00:00.000Z', summary: 'On call: Service desk primary' });
    expect(shifts).toContainEqual({ start: '2026-03-29T01:30:00.000Z', end: '2026-03-29T07:00:00.000Z', summary: 'On call: Service desk primary' });
    expect(text).toContain('DTSTART;TZID=Europe/London:20260329T023000\r\nDTEND;TZID=Europe/London:20260329T080000');
    // After the change his shifts still start at 08:00 local, now 07:00Z.
    expect(shifts).toContainEqual({ start: '2026-03-31T07:00:00.000Z', end: '2026-04-01T07:00:00.000Z', summary: 'On call: Service desk primary' });
    expect(text).toContain('DTSTART;TZID=Europe/London:20260331T080000');

    // Only his shifts, each in its rotation's zone, within the configured range (7 days back, 45 ahead).
    expect(events.every((event) => event.description.includes(`<${TOM}>`))).toBe(true);
    expect(new Set(events.map((event) => event.zone))).toEqual(new Set(['Europe/London', 'America/New_York']));
    expect(events.every((event) => event.end > new Date('2026-02-23T10:00:00Z') && event.start < new Date('2026-04-16T10:00:00Z'))).toBe(true);
    expect(events.length).toBeGreaterThan(30);
    expectVtimezonesAgree(text, events);
  });
});

describe("a rotation's feed", () => {
  it("holds everyone's shifts without gaps, the override marked with whom it replaces, hand-offs at 08:00 local on both sides of the change", async () => {
    const addresses = await newAddress(lena);
    const { text, events } = await feed(addresses.rotations.find((rotation) => rotation.id === 'service-desk-primary')!.url);
    expect(text).toContain('X-WR-TIMEZONE:Europe/London');
    expect(text).toContain('X-WR-CALNAME:On call: Service desk primary');
    for (let i = 1; i < events.length; i++) expect(events[i]!.start.getTime(), `gap before ${view(events[i]!).start}`).toBe(events[i - 1]!.end.getTime());

    // Users are shown by name; Omar has no user record, so his address shows.
    const around = events.map(view).filter((event) => event.start >= '2026-03-27T12' && event.start < '2026-03-30T12');
    expect(around).toEqual([
      { start: '2026-03-28T08:00:00.000Z', end: '2026-03-28T12:00:00.000Z', summary: `On call: ${names.get(TOM)}` },
      { start: '2026-03-28T12:00:00.000Z', end: '2026-03-29T01:30:00.000Z', summary: `On call: ${names.get(LENA)} (override)` },
      { start: '2026-03-29T01:30:00.000Z', end: '2026-03-29T07:00:00.000Z', summary: `On call: ${names.get(TOM)}` },
      { start: '2026-03-29T07:00:00.000Z', end: '2026-03-30T07:00:00.000Z', summary: `On call: ${names.get(LENA)}` },
      { start: '2026-03-30T07:00:00.000Z', end: '2026-03-31T07:00:00.000Z', summary: `On call: ${OMAR}` },
    ]);
    const override = events.find((event) => event.summary.endsWith('(override)'))!;
    expect(override.description).toContain(`Override: replaces ${names.get(TOM)}`);
    expectVtimezonesAgree(text, events);
  });

  it('of a weekly rotation: the week with the change lasts 167 hours and hands off at 09:00 local on both sides', async () => {
    const addresses = await newAddress(lena);
    const { events } = await feed(addresses.rotations.find((rotation) => rotation.id === 'tier2-weekly')!.url);
    expect(events.map(view)).toContainEqual({ start: '2026-03-23T09:00:00.000Z', end: '2026-03-30T08:00:00.000Z', summary: 'On call: marco.rossi@precision.example' });
    expect(events.map(view)).toContainEqual({ start: '2026-03-30T08:00:00.000Z', end: '2026-04-06T08:00:00.000Z', summary: 'On call: grace.kim@precision.example' });
  });

  it('answers 404 for a rotation that does not exist', async () => {
    const addresses = await newAddress(lena);
    const res = await fetchFeed(addresses.shifts.replace('/shifts.ics', '/rotations/nope.ics'));
    expect(res.status).toBe(404);
  });
});

describe('the secret address', () => {
  it('is stored only as a hash, and the request log masks it', async () => {
    const addresses = await newAddress(tom);
    const token = new URL(addresses.shifts).searchParams.get('token')!;
    const rows = await t.orm.em.fork().getConnection().execute<Record<string, unknown>[]>('select * from oncall_calendar_feed where user_id = ?', [tomId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(token);
    const audit = await t.orm.em.fork().getConnection().execute<Record<string, unknown>[]>("select * from audit_event where action like 'oncall.calendar_feed%'");
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(token);
    const { pathname, search } = new URL(addresses.shifts);
    expect(JSON.stringify(serializeRequest({ url: pathname + search, query: { token } }))).not.toContain(token);
  });

  it('stops working when its owner makes a new one, and an admin can replace or end it', async () => {
    const first = await newAddress(tom);
    const second = await newAddress(tom);
    expect((await fetchFeed(first.shifts)).status).toBe(404);
    expect((await fetchFeed(first.rotations[0]!.url)).status).toBe(404);
    expect((await fetchFeed(second.shifts)).status).toBe(200);

    const byAdmin = await t.http.post(`/api/v1/oncall/calendar-feeds/${tomId}`).set('Authorization', `Bearer ${admin}`);
    expect(byAdmin.status).toBe(201);
    expect((await fetchFeed(second.shifts)).status).toBe(404);
    expect((await fetchFeed(byAdmin.body.shifts)).status).toBe(200);
    const status = await t.http.get('/api/v1/oncall/calendar-feed').set('Authorization', `Bearer ${tom}`);
    expect(status.body).toMatchObject({ active: true, createdBy: expect.stringMatching(/admin/) });

    expect((await t.http.delete(`/api/v1/oncall/calendar-feeds/${tomId}`).set('Authorization', `Bearer ${admin}`)).status).toBe(204);
    expect((await fetchFeed(byAdmin.body.shifts)).status).toBe(404);
    expect((await t.http.get('/api/v1/oncall/calendar-feed').set('Authorization', `Bearer ${tom}`)).body).toEqual({ active: false });
    expect((await t.http.delete(`/api/v1/oncall/calendar-feeds/${tomId}`).set('Authorization', `Bearer ${admin}`)).status).toBe(404);

    const own = await newAddress(tom);
    expect((await t.http.delete('/api/v1/oncall/calendar-feed').set('Authorization', `Bearer ${tom}`)).status).toBe(204);
    expect((await fetchFeed(own.shifts)).status).toBe(404);
  });

  it('answers 404 to a wrong, missing or foreign token, and once its owner is disabled', async () => {
    const addresses = await newAddress(lena);
    const url = new URL(addresses.shifts);
    const token = url.searchParams.get('token')!;
    for (const wrong of [`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, '', 'idt_not-a-calendar-token']) {
      expect((await t.http.get(`${url.pathname}?token=${encodeURIComponent(wrong)}`)).status, wrong).toBe(404);
    }
    expect((await t.http.get(url.pathname)).status).toBe(404);

    const leaver = await t.tokenFor('tier2', { email: 'leaver@precision.example' });
    const leaverFeed = await newAddress(leaver);
    expect((await fetchFeed(leaverFeed.shifts)).status).toBe(200);
    await t.app.services.users.disableUser('leaver@precision.example', { type: 'system', name: 'test' });
    expect((await fetchFeed(leaverFeed.shifts)).status).toBe(404);
    expect((await fetchFeed(leaverFeed.rotations[0]!.url)).status).toBe(404);
  });

  it('is for staff only: client contacts get none, and bad user ids are refused', async () => {
    const contact = await t.tokenFor('client_contact', { clientId: 'northwind' });
    expect((await t.http.post('/api/v1/oncall/calendar-feed').set('Authorization', `Bearer ${contact}`)).status).toBe(403);
    const contactId = (await t.http.get('/api/v1/me').set('Authorization', `Bearer ${contact}`)).body.id;
    expect((await t.http.post(`/api/v1/oncall/calendar-feeds/${contactId}`).set('Authorization', `Bearer ${admin}`)).status).toBe(404);
    expect((await t.http.post('/api/v1/oncall/calendar-feeds/999999').set('Authorization', `Bearer ${admin}`)).status).toBe(404);
    expect((await t.http.post('/api/v1/oncall/calendar-feeds/tom').set('Authorization', `Bearer ${admin}`)).status).toBe(400);
    expect((await t.http.post(`/api/v1/oncall/calendar-feeds/${tomId}`).set('Authorization', `Bearer ${lena}`)).status).toBe(403);
  });

  it('is managed through documented API routes', async () => {
    const openApi = (await t.http.get('/api/v1/openapi.json').set('Authorization', `Bearer ${admin}`)).body as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(openApi.paths['/oncall/calendar-feed']!).sort()).toEqual(['delete', 'get', 'post']);
    expect(Object.keys(openApi.paths['/oncall/calendar-feeds/{user}']!).sort()).toEqual(['delete', 'post']);
  });
});
