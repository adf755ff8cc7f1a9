import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AM_TOKEN, alertmanagerPayload } from '../support/alert-payloads';
import { smtpConfigFor, startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp-sink';
import { startTestApp, type TestApp } from '../support/test-app';

// Example configuration, client northwind: notify contact it-ops@northwind.example,
// account manager sarah.okafor@precision.example, public status page. Defaults: first
// notice within 15m (Sev1) / 30m (Sev2) after a 5m hold, updates every 30m / 60m,
// reminders 10m before.
const IT_OPS = 'it-ops@northwind.example';
const ACCOUNT_MANAGER = 'sarah.okafor@precision.example';
const MANAGER = 'helen.carter@precision.example';
const minutes = (n: number) => n * 60_000;

let t: TestApp;
let sink: SmtpSink;
let desk: string;
let manager: string;
const as = (token = desk) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  t = await startTestApp();
  sink = await startSmtpSink();
  useSmtp();
  desk = await t.tokenFor('service_desk', { email: 'desk@test.example' });
  manager = await t.tokenFor('incident_manager', { email: MANAGER });
});
afterAll(async () => {
  await t?.app.services.notificationSender.stop();
  await sink?.stop();
  await t?.close();
});
beforeEach(() => {
  sink.received.length = 0;
});

function useSmtp(communications: Record<string, unknown> = {}) {
  const current = t.configStore.current;
  t.configStore.replace({
    ...current,
    smtp: smtpConfigFor(sink),
    clients: current.clients.map((client) => (client.id === 'northwind' ? { ...client, communications } : client)),
  });
}

/** Fires due timers, then delivers the outbox. */
async function settle() {
  await t.app.services.timers.runDue();
  await t.app.services.notificationSender.runDue();
}

async function open(body: Record<string, unknown> = {}) {
  const res = await t.http.post('/api/v1/incidents').set(as()).send({ title: 'Checkout 500s on nw-web-01', client: 'northwind', services: ['nw-webshop'], source: 'staff', severity: 1, ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}
const detail = async (id: string) => (await t.http.get(`/api/v1/incidents/${id}`).set(as(manager))).body;
const mailsAbout = (id: string, to: string) => sink.to(to).filter((mail) => mail.subject.includes(`(${id})`));

function expectBothParts(mail: ReceivedMail) {
  expect(mail.text.length).toBeGreaterThan(50);
  expect(mail.html).toContain('<html');
  expect(mail.messageId).toMatch(/^<incidentd\.\d+\.\d+@precision\.example>$/);
  expect(mail.parsed.headers.get('auto-submitted')).toBe('auto-generated');
}

describe('first notice of a Sev1/Sev2 (INC-09, INC-10)', () => {
  it('waits for staff words for the hold, then tells the notify contacts and the account manager with public words only', async () => {
    // An alert whose labels name hosts and carry internals: none of that may reach the client.
    const alert = alertmanagerPayload('{}:{alertname="CheckoutErrors"}', [
      { labels: { alertname: 'CheckoutErrors', client: 'northwind', service: 'nw-webshop', severity: 'critical', instance: 'nw-web-01.internal:9100' }, annotations: { summary: 'Checkout 500s on nw-web-01.internal', runbook: 'ssh root@10.20.0.5' } },
    ]);
    await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(alert).expect(202);
    await t.app.services.alertProcessor.drain();
    const list = await t.http.get('/api/v1/incidents?client=northwind&open=true').set(as());
    const id = list.body.items.find((incident: { title: string }) => incident.title.includes('nw-web-01')).id as string;
    await t.http.post(`/api/v1/incidents/${id}/notes`).set(as()).send({ text: 'internal: db password rotated, ticket SECRET-4711', visibility: 'internal' }).expect(201);

    t.clock.advance(minutes(4));
    await settle();
    expect(mailsAbout(id, IT_OPS)).toHaveLength(0);

    t.clock.advance(minutes(1));
    await settle();
    const [notice] = mailsAbout(id, IT_OPS);
    expect(notice).toBeDefined();
    expect(mailsAbout(id, ACCOUNT_MANAGER)).toHaveLength(1);
    expectBothParts(notice!);
    expect(notice!.subject).toBe(`[Northwind Traders] Critical incident: Web shop: service disruption (${id})`);
    expect(notice!.envelope.from).toBe('servicedesk@precision.example');
    for (const part of [notice!.text, notice!.html, notice!.subject]) {
      expect(part).not.toMatch(/nw-web-01|10\.20\.0\.5|SECRET-4711|root@|CheckoutErrors/);
    }
    expect(notice!.text).toContain('our engineers are investigating');
    expect(notice!.text).toContain('Next update by Mon 2 Mar 2026, 10:35 GMT');
    expect(notice!.text).toContain('Precision Computer Service Desk - on behalf of Northwind Traders IT');
    expect(notice!.html).toContain('href="http://127.0.0.1:8080/status/northwind"');

    const incident = await detail(id);
    expect(incident.communication).toMatchObject({ updatesSent: 1, initialNoticeAt: '2026-03-02T10:05:00.000Z', nextUpdateDueAt: '2026-03-02T10:35:00.000Z' });
    const entry = incident.timeline.find((event: { type: string; message: string }) => event.type === 'communication' && event.message.startsWith('client notified'));
    expect(entry.message).toContain('5 min after logging (target 15 min)');
    t.clock.advance(minutes(60));
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'cancelled', reason: 'test over' }).expect(200);
  });

  it('goes out at once with the staff words when a public update is posted during the hold', async () => {
    const id = await open({ severity: 2 });
    t.clock.advance(minutes(1));
    await t.http.post(`/api/v1/incidents/${id}/updates`).set(as(manager)).send({ message: 'Card payments fail for some customers. We are failing over to the second provider.', status: 'identified' }).expect(201);
    await settle();
    const [notice] = mailsAbout(id, IT_OPS);
    expect(notice!.subject).toContain('High incident');
    expect(notice!.text).toContain('Card payments fail for some customers');
    expect(notice!.text).toContain('Status:     Identified');
    // Sev2: next update within 60 minutes.
    expect((await detail(id)).communication.nextUpdateDueAt).toBe(new Date(t.clock.now().getTime() + minutes(60)).toISOString());
    // The hold's timer finds the notice sent and sends nothing more.
    t.clock.advance(minutes(10));
    await settle();
    expect(mailsAbout(id, IT_OPS)).toHaveLength(1);
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'cancelled', reason: 'test over' }).expect(200);
  });

  it('is not sent for Sev3, starts when the severity is raised to Sev2, and never for security incidents', async () => {
    const id = await open({ severity: 3 });
    t.clock.advance(minutes(30));
    await settle();
    expect(mailsAbout(id, IT_OPS)).toHaveLength(0);
    await t.http.post(`/api/v1/incidents/${id}/severity`).set(as()).send({ severity: 2, reason: 'all stores affected' }).expect(200);
    t.clock.advance(minutes(5));
    await settle();
    expect(mailsAbout(id, IT_OPS)).toHaveLength(1);
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'cancelled', reason: 'test over' }).expect(200);

    const secret = await open({ severity: 1, category: 'security' });
    t.clock.advance(minutes(30));
    await settle();
    expect(sink.received.filter((mail) => mail.subject.includes(`(${secret})`))).toHaveLength(0);
  });

  it('sends nothing for an incident cancelled (false positive) during the hold', async () => {
    const id = await open({ severity: 1 });
    t.clock.advance(minutes(2));
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'cancelled', reason: 'false positive: synthetic check misconfigured' }).expect(200);
    t.clock.advance(minutes(10));
    await settle();
    expect(sink.received.filter((mail) => mail.subject.includes(`(${id})`))).toHaveLength(0);
    expect((await detail(id)).timeline.some((event: { message: string }) => event.message.includes('no client notice'))).toBe(true);
  });
});

describe('update cadence (INC-09)', () => {
  it('reminds the incident manager before an update is due, flags it overdue, and restarts with each update', async () => {
    const id = await open({ severity: 1 });
    await t.http.post(`/api/v1/incidents/${id}/updates`).set(as(manager)).send({ message: 'Checkout is failing. Engineers are investigating.' }).expect(201);
    await settle();
    const start = t.clock.now().getTime();

    t.clock.set(new Date(start + minutes(20)));
    await settle();
    const reminders = () => sink.to(MANAGER).filter((mail) => mail.subject.includes(`client update for ${id} `));
    const [reminder] = reminders();
    expect(reminder!.subject).toBe(`Due Mon 2 Mar 2026, ${new Date(start + minutes(30)).toISOString().slice(11, 16)} UTC: client update for ${id} (Northwind Traders, Sev1)`);
    expect(reminder!.text).toContain('Post a public update');

    t.clock.set(new Date(start + minutes(30)));
    await settle();
    expect(reminders().filter((mail) => mail.subject.startsWith('OVERDUE'))).toHaveLength(1);
    // Without autoSendUpdates, the client gets nothing by itself.
    expect(mailsAbout(id, IT_OPS)).toHaveLength(1);

    await t.http.post(`/api/v1/incidents/${id}/updates`).set(as(manager)).send({ message: 'We found the cause, a full disk on a database node, and are freeing space.', status: 'identified' }).expect(201);
    await settle();
    const updates = mailsAbout(id, IT_OPS);
    expect(updates).toHaveLength(2);
    expect(updates[1]!.subject).toBe(`[Northwind Traders] Update 2: Web shop: service disruption (${id}) Identified`);
    expect(updates[1]!.text).toContain('a full disk on a database node');
    const incident = await detail(id);
    expect(incident.communication).toMatchObject({ updatesSent: 2, nextUpdateDueAt: new Date(t.clock.now().getTime() + minutes(30)).toISOString() });
    expect(incident.timeline.filter((event: { type: string }) => event.type === 'public.update')).toHaveLength(2);
    expect(incident.timeline.some((event: { message: string }) => event.message.startsWith('client update 2 e-mailed to'))).toBe(true);

    // The new cadence counts from the update (due at +60): a reminder at +50, and no
    // second "overdue" for the old due time.
    t.clock.set(new Date(start + minutes(50)));
    await settle();
    expect(reminders().filter((mail) => mail.subject.startsWith('OVERDUE'))).toHaveLength(1);
    expect(reminders()).toHaveLength(3);
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'cancelled', reason: 'test over' }).expect(200);
  });

  it('sends the latest public update again when it falls due, if the client is configured so', async () => {
    useSmtp({ autoSendUpdates: true, updateEvery: { sev1: '20m' } });
    try {
      const id = await open({ severity: 1 });
      await t.http.post(`/api/v1/incidents/${id}/updates`).set(as(manager)).send({ message: 'Engineers are restoring the shop from the standby.' }).expect(201);
      await settle();
      t.clock.advance(minutes(20));
      await settle();
      const updates = mailsAbout(id, IT_OPS);
      expect(updates).toHaveLength(2);
      expect(updates[1]!.text).toContain('There is no new information since our last update.');
      expect(updates[1]!.text).toContain('Engineers are restoring the shop from the standby.');
      // Cadence stops once resolved.
      await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'resolved', resolutionSummary: 'standby promoted' }).expect(200);
      await settle();
      t.clock.advance(minutes(60));
      await settle();
      expect(mailsAbout(id, IT_OPS).filter((mail) => mail.subject.includes('Update'))).toHaveLength(1);
    } finally {
      useSmtp();
    }
  });
});

function restorationLink(mail: ReceivedMail, answer: 'restored' | 'not_fixed'): string {
  const match = new RegExp(`http://127\\.0\\.0\\.1:8080(/respond/restoration/[^\\s?]+)\\?answer=${answer}`).exec(mail.text);
  expect(match, mail.text).not.toBeNull();
  return match![1]!;
}

async function resolvedIncident(): Promise<{ id: string; mail: ReceivedMail }> {
  const id = await open({ severity: 1 });
  await t.http.post(`/api/v1/incidents/${id}/updates`).set(as(manager)).send({ message: 'Checkout is failing. Engineers are investigating.' }).expect(201);
  t.clock.advance(minutes(40));
  await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'resolved', resolutionSummary: 'restarted payment-gw on nw-pay-02 after OOM' }).expect(200);
  await settle();
  const mail = mailsAbout(id, IT_OPS).find((candidate) => candidate.subject.includes('Service restored'));
  expect(mail).toBeDefined();
  return { id, mail: mail! };
}

describe('restoration and client validation (INC-05, INC-09, INC-13)', () => {
  it('e-mails a signed link; confirming closes the incident and records the rating, once', async () => {
    const { id, mail } = await resolvedIncident();
    expectBothParts(mail);
    expect(mail.subject).toBe(`[Northwind Traders] Service restored: Web shop: service disruption (${id}); please confirm`);
    expect(mail.text).not.toMatch(/nw-pay-02|payment-gw|OOM/);
    expect(mail.html).toContain('Yes, it works');
    // The account manager gets a copy without links (only the client validates).
    const copy = mailsAbout(id, ACCOUNT_MANAGER).find((candidate) => candidate.subject.includes('Service restored'));
    expect(copy!.text).not.toContain('/respond/restoration/');

    const link = restorationLink(mail, 'restored');
    // Opening the link (or a mail scanner prefetching it) changes nothing.
    const page = await t.http.get(`${link}?answer=restored`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Is the service working again?');
    expect(page.text).toMatch(/value="restored" required checked/);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect((await detail(id)).state).toBe('resolved');

    const answer = await t.http.post(link).type('form').send({ answer: 'restored', rating: '4', comment: 'Quick fix, <b>thanks</b>' });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('We have closed the incident.');
    const incident = await detail(id);
    expect(incident.state).toBe('closed');
    expect(incident.timeline.find((event: { type: string }) => event.type === 'client.feedback').message).toBe('Northwind IT Operations (northwind) confirmed the restoration; rating 4/5: Quick fix, <b>thanks</b>');
    expect(incident.timeline.some((event: { message: string }) => event.message === 'resolved -> closed: restoration confirmed by the client (Northwind IT Operations)')).toBe(true);

    // Reused: answered already, nothing changes.
    const again = await t.http.post(link).type('form').send({ answer: 'not_fixed' });
    expect(again.status).toBe(200);
    expect(again.text).toContain('we have your answer');
    expect((await detail(id)).state).toBe('closed');

    const report = await t.http.get('/api/v1/reports/satisfaction?client=northwind').set(as(manager));
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ answered: 1, confirmedRestored: 1, averageRating: 4, distribution: { 4: 1 } });
    expect(report.body.answers[0]).toMatchObject({ incidentId: id, rating: 4, outcome: 'restored', comment: 'Quick fix, <b>thanks</b>' });
  });

  it('"not fixed" re-opens the incident; the old link no longer applies', async () => {
    const { id, mail } = await resolvedIncident();
    const link = restorationLink(mail, 'not_fixed');
    const answer = await t.http.post(link).type('form').send({ answer: 'not_fixed', rating: '2', comment: 'Still getting errors at checkout' });
    expect(answer.text).toContain('We have re-opened the incident');
    const incident = await detail(id);
    expect(incident.state).toBe('investigating');
    expect(incident.timeline.some((event: { message: string }) => event.message.includes('the client (Northwind IT Operations) reports it is not fixed: Still getting errors at checkout'))).toBe(true);
    // The client hears that it is being worked on again.
    await settle();
    expect(mailsAbout(id, IT_OPS).some((mail) => mail.text.includes('We have re-opened the incident and are investigating again.'))).toBe(true);
    await t.http.post(`/api/v1/incidents/${id}/transition`).set(as()).send({ to: 'cancelled', reason: 'test over' }).expect(200);
  });

  it('refuses tampered and expired links without changing anything', async () => {
    const { id, mail } = await resolvedIncident();
    const link = restorationLink(mail, 'restored');
    const [subject, expires, signature] = link.split('/').at(-1)!.split('.') as [string, string, string];
    const other = `/respond/restoration/${Number(subject) + 1}.${expires}.${signature}`;
    for (const bad of [other, `/respond/restoration/${subject}.${Number(expires) + 3600}.${signature}`, '/respond/restoration/garbage']) {
      const res = await t.http.post(bad).type('form').send({ answer: 'restored' });
      expect(res.status).toBe(404);
      expect(res.text).toContain('This link does not work');
    }
    expect((await detail(id)).state).toBe('resolved');

    t.clock.advance(8 * 24 * 60 * minutes(1));
    const expired = await t.http.post(link).type('form').send({ answer: 'restored' });
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('This link has expired');
    const feedback = await t.http.get('/api/v1/reports/satisfaction').set(as(manager));
    expect(feedback.body.answers.some((answer: { incidentId: string }) => answer.incidentId === id)).toBe(false);
  });

  it('rejects a form without an answer with 400 and keeps the link usable', async () => {
    const { id, mail } = await resolvedIncident();
    const link = restorationLink(mail, 'restored');
    const res = await t.http.post(link).type('form').send({ rating: '9' });
    expect(res.status).toBe(400);
    expect((await t.http.get(link)).text).toContain('Is the service working again?');
    expect((await detail(id)).state).toBe('resolved');
  });
});
