import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationSchema } from '../../src/features/notifications/notification-entities';
import { StatusSubscriberSchema } from '../../src/features/status-page/status-page-entities';
import { startTestApp, type TestApp } from '../support/test-app';
import { addNote, createIncident } from './status-page-support';

let t: TestApp;
let desk: string;

beforeAll(async () => {
  t = await startTestApp();
  desk = await t.tokenFor('service_desk');
});
afterAll(async () => {
  t?.app.services.statusPages.stop();
  await t?.close();
});

const mailsTo = (recipient: string, kind?: string) => t.orm.em.fork().find(NotificationSchema, { recipient, ...(kind ? { kind } : {}) }, { orderBy: { id: 'asc' } });
const tokenIn = (body: string, path: string) => new URL(body.match(new RegExp(`https?://\\S+/${path}\\?token=\\S+`))![0]).searchParams.get('token')!;

/** Subscriber mail is written after the incident's commit. */
const mailWritten = () => t.app.services.statusSubscriptions.idle();

describe('status page e-mail subscriptions', () => {
  it('double opt-in: only a confirmation mail until its link is used, then updates of the chosen components, each with a one-click unsubscribe', async () => {
    await t.http.post('/status/northwind/subscribe').type('form').send('email=Ana%40Example.com&components=nw-payments').expect(200);
    const [confirmMail] = await mailsTo('ana@example.com');
    expect(confirmMail).toMatchObject({ kind: 'status.subscription_confirm', status: 'pending', channel: 'email' });
    expect(confirmMail!.body).toContain('/status/northwind/unsubscribe?token=');

    // Not confirmed yet: public updates do not reach the address.
    const first = await createIncident(t, desk, { client: 'northwind', services: ['nw-payments'], severity: 2 });
    await addNote(t, desk, first, 'Card payments fail.', 'public');
    await mailWritten();
    expect(await mailsTo('ana@example.com', 'status.incident_update')).toHaveLength(0);

    // The link opens a page with a button (mail scanners change nothing); the POST confirms.
    const confirmToken = tokenIn(confirmMail!.body, 'subscription/confirm');
    const confirmPage = await t.http.get(`/status/northwind/subscription/confirm?token=${confirmToken}`).expect(200);
    expect(confirmPage.text).toContain('Confirm subscription');
    expect((await t.http.get('/status/northwind').expect(200)).text).not.toContain('ana@example.com');
    expect(await t.orm.em.fork().findOneOrFail(StatusSubscriberSchema, { email: 'ana@example.com' })).toMatchObject({ confirmedAt: null });
    await t.http.post('/status/northwind/subscription/confirm').type('form').send({ token: confirmToken }).expect(200);
    await t.http.post('/status/northwind/subscription/confirm').type('form').send({ token: `${confirmToken.slice(0, -2)}xx` }).expect(400);

    await addNote(t, desk, first, 'The payment provider has fixed the fault. <b>Thanks</b>', 'public');
    await mailWritten();
    const [update, ...more] = await mailsTo('ana@example.com', 'status.incident_update');
    expect(more).toEqual([]);
    expect(update!.subject).toBe('[Northwind Traders - Service Status] Investigating: Payments API: service disruption');
    expect(update!.body).toContain('The payment provider has fixed the fault. <b>Thanks</b>');
    expect(update!.body).toContain(`/status/northwind/incidents/${first}`);

    // Other components: not chosen, so no mail.
    const other = await createIncident(t, desk, { client: 'northwind', services: ['nw-email'], severity: 2 });
    await addNote(t, desk, other, 'Mail is slow.', 'public');
    await addNote(t, desk, first, 'Still watching payments.', 'public');
    await mailWritten();
    const updates = await mailsTo('ana@example.com', 'status.incident_update');
    expect(updates.map((row) => row.body.split('\n')[0])).toEqual(['Investigating: The payment provider has fixed the fault. <b>Thanks</b>', 'Investigating: Still watching payments.']);

    // RFC 8058 one-click: a POST to the link in the mail, without cookies or form.
    const unsubscribeUrl = new URL(update!.body.match(/https?:\/\/\S+\/unsubscribe\?token=\S+/)![0]);
    await t.http.post(`${unsubscribeUrl.pathname}${unsubscribeUrl.search}`).type('form').send('List-Unsubscribe=One-Click').expect(200);
    await addNote(t, desk, first, 'Resolved.', 'public');
    await mailWritten();
    expect(await mailsTo('ana@example.com', 'status.incident_update')).toHaveLength(2);
  });

  it('answers the same whether or not the address is subscribed, sends at most one mail an hour per address, and refuses bad input', async () => {
    for (let i = 0; i < 3; i += 1) await t.http.post('/status/globex/subscribe').type('form').send('email=bo%40example.com').expect(200);
    expect(await mailsTo('bo@example.com')).toHaveLength(1);
    await t.http.post('/status/globex/subscribe').type('form').send('email=not-an-address').expect(400);
    await t.http.post('/status/acme-health/subscribe').type('form').send('email=bo%40example.com').expect(401);
  });
});
