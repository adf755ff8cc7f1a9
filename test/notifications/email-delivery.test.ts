import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../src/features/notifications/outbox';
import { smtpConfigFor, startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let sink: SmtpSink;
let admin: string;
let run = 0;

beforeAll(async () => {
  t = await startTestApp();
  sink = await startSmtpSink({ rejectRecipients: /^nobody@/ });
  admin = await t.tokenFor('admin');
});
afterAll(async () => {
  await t?.app.services.notificationSender.stop();
  await sink?.stop();
  await t?.close();
});
beforeEach(() => {
  sink.received.length = 0;
  run += 1;
  useSmtp();
});

function useSmtp(enabled = true) {
  const { smtp: _omit, ...rest } = t.configStore.current;
  t.configStore.replace(enabled ? { ...rest, smtp: smtpConfigFor(sink) } : rest);
}

async function enqueue(messages: Partial<OutgoingMessage>[]) {
  await t.orm.em.fork().transactional(async (em) => {
    for (const [index, message] of messages.entries()) {
      await t.app.services.outbox.enqueue(em, { kind: 'test.notice', incidentId: null, recipients: [], subject: `Test ${run}.${index}`, body: `Body ${run}.${index}`, eventKey: `test:${run}:${index}`, ...message });
    }
  });
}

const rows = () => t.orm.em.fork().getConnection().execute<{ id: string; recipient: string; status: string; attempts: number; message_id: string | null; response: string | null; last_error: string | null }[]>(`select id, recipient, status, attempts, message_id, response, last_error from notification where subject like 'Test ${run}.%' order by id`);
const send = () => t.app.services.notificationSender.runDue();
const metricValue = async (name: string, labels: string) => {
  const text = await t.app.metrics.registry.metrics();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

describe('e-mail delivery through SMTP', () => {
  it('keeps every message while the mail server is down and delivers each exactly once when it is back', async () => {
    await sink.stop();
    const people = ['ann@client.example', 'bob@client.example', 'cy@client.example'];
    await enqueue([{ recipients: people }, { recipients: people }, { recipients: ['dee@client.example'] }]);
    await send();
    let state = await rows();
    expect(state).toHaveLength(7);
    expect(state.every((row) => row.status === 'pending' && row.attempts === 1 && row.last_error)).toBe(true);

    // Still down a minute later: backoff, still nothing lost.
    t.clock.advance(60_000);
    await send();
    expect((await rows()).every((row) => row.status === 'pending' && row.attempts === 2)).toBe(true);

    await sink.start();
    t.clock.advance(60_000);
    await send();
    state = await rows();
    expect(state.map((row) => row.status)).toEqual(Array(7).fill('sent'));
    expect(state.every((row) => row.response?.startsWith('250'))).toBe(true);
    expect(sink.received).toHaveLength(7);
    expect(new Set(sink.received.map((mail) => mail.messageId)).size).toBe(7);
    expect(sink.received.map((mail) => mail.messageId).sort()).toEqual(state.map((row) => row.message_id).sort());

    // Nothing more goes out later.
    t.clock.advance(3_600_000);
    await send();
    expect(sink.received).toHaveLength(7);
  });

  it('dead-letters a permanently rejected address at once, counts it, and lets an admin retry it', async () => {
    const deadBefore = await metricValue('incidentd_notifications_total', 'channel="email",result="dead"');
    await enqueue([{ recipients: ['nobody@client.example', 'ann@client.example'] }]);
    await send();
    const [rejected, delivered] = await rows();
    expect(delivered).toMatchObject({ status: 'sent' });
    expect(rejected).toMatchObject({ recipient: 'nobody@client.example', status: 'dead', attempts: 1 });
    expect(rejected!.last_error).toMatch(/550/);
    expect(await metricValue('incidentd_notifications_total', 'channel="email",result="dead"')).toBe(deadBefore + 1);
    expect(await metricValue('incidentd_notification_outbox', 'channel="email",status="dead"')).toBeGreaterThanOrEqual(1);

    const listed = await t.http.get('/api/v1/notifications?status=dead&channel=email').set('Authorization', `Bearer ${admin}`);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(rejected!.id);
    const retried = await t.http.post(`/api/v1/notifications/${rejected!.id}/retry`).set('Authorization', `Bearer ${admin}`);
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('pending');
  });

  it('re-sends a message whose sender died before recording it with the same Message-ID', async () => {
    await enqueue([{ recipients: ['ann@client.example'] }]);
    await send();
    const [row] = await rows();
    // As if the daemon had been killed after the server accepted the message but before
    // the row was marked sent: the lease is still on it, then it expires.
    await t.orm.em.fork().getConnection().execute("update notification set status = 'sending', sent_at = null, lease_until = ? where id = ?", [new Date(t.clock.now().getTime() + 60_000), row!.id]);
    await send();
    expect(sink.received).toHaveLength(1);
    t.clock.advance(61_000);
    await send();
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1]!.messageId).toBe(sink.received[0]!.messageId);
    expect((await rows())[0]).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('gives up on a message after notifications.giveUpAfter and says so', async () => {
    await sink.stop();
    try {
      await enqueue([{ recipients: ['ann@client.example'] }]);
      await send();
      t.clock.advance(25 * 3_600_000);
      await send();
      expect((await rows())[0]).toMatchObject({ status: 'dead', attempts: 2 });
    } finally {
      await sink.start();
    }
  });

  it('leaves e-mail in the outbox while no smtp section is configured', async () => {
    useSmtp(false);
    await enqueue([{ recipients: ['ann@client.example'] }]);
    await send();
    expect((await rows())[0]).toMatchObject({ status: 'pending', attempts: 0 });
    useSmtp(true);
    await send();
    expect((await rows())[0]).toMatchObject({ status: 'sent' });
    expect(sink.received).toHaveLength(1);
  });

  it('sends staff pages with a text and an HTML part in the staff layout', async () => {
    await enqueue([{ kind: 'escalation.page', recipients: ['oncall@precision.example'], subject: `Test ${run}.page [P1 Sev1] INC-9 Checkout down`, body: 'Not acknowledged yet: step 1 of major.\n<script>alert(1)</script>' }]);
    await send();
    const [mail] = sink.received;
    expect(mail!.subject).toBe(`Test ${run}.page [P1 Sev1] INC-9 Checkout down`);
    expect(mail!.text).toContain('<script>alert(1)</script>');
    expect(mail!.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail!.html).not.toContain('<script>');
    expect(mail!.html).toContain('Precision Service Desk');
  });
});

describe('e-mail templates', () => {
  it('renders every template from its sample with a one-line subject and both parts', () => {
    const templates = t.app.services.emailTemplates;
    expect(templates.names()).toEqual(['change-approval-request', 'change-approval-staff', 'change-notice', 'incident-opened', 'incident-restored', 'incident-update', 'staff-page', 'update-reminder']);
    for (const name of templates.names()) {
      const email = templates.render(name, templates.sample(name), { name: 'Northwind Traders', signature: 'Service Desk' });
      expect(email.subject, name).toMatch(/^\S.{10,}$/);
      expect(email.subject, name).not.toMatch(/[\r\n]|\{\{/);
      expect(email.text, name).toContain('Service Desk');
      expect(email.html, name).toMatch(/^<!doctype html>/);
      expect(email.text, name).not.toMatch(/\bundefined\b|\[object Object\]|Invalid DateTime/);
    }
  });

  it('previews a template for admins in a client branding, as HTML or text', async () => {
    const auth = { Authorization: `Bearer ${admin}` };
    const list = await t.http.get('/admin/emails').set(auth);
    expect(list.status).toBe(200);
    expect(list.text).toContain('/admin/emails/incident-restored/preview?client=northwind');
    const html = await t.http.get('/admin/emails/incident-opened/preview?client=northwind').set(auth);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.text).toContain('Precision Computer Service Desk - on behalf of Northwind Traders IT');
    expect(html.text).toContain('Customers cannot complete checkout.');
    const text = await t.http.get('/admin/emails/incident-opened/preview?client=northwind&part=text').set(auth);
    expect(text.text).toMatch(/^Subject: \[Northwind Traders\] Critical incident: Web shop: service disruption \(INC-1042\)\n/);
    expect((await t.http.get('/admin/emails/nope/preview').set(auth)).status).toBe(404);
    expect((await t.http.get('/admin/emails/..%2Fhome/preview').set(auth)).status).toBe(404);
    const desk = await t.tokenFor('service_desk');
    expect((await t.http.get('/admin/emails/incident-opened/preview').set({ Authorization: `Bearer ${desk}` })).status).toBe(403);
    expect((await t.http.get('/admin/emails/incident-opened/preview')).status).toBe(401);
  });
});
