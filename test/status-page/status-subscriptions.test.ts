import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationSchema } from '../../src/features/notifications/notification-entities';
import { StatusSubscriberSchema } from '../../src/features/status-page/status-page-entities';
import { startTestApp, type TestApp } from '../support/test-app';
import { addNote, createIncident, subscribeAsVisitor } from './status-page-support';

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
    expect((await subscribeAsVisitor(t, 'northwind', 'email=Ana%40Example.com&components=nw-payments')).status).toBe(200);
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
    for (let i = 0; i < 3; i += 1) expect((await subscribeAsVisitor(t, 'globex', 'email=bo%40example.com')).status).toBe(200);
    expect(await mailsTo('bo@example.com')).toHaveLength(1);
    expect((await subscribeAsVisitor(t, 'globex', 'email=not-an-address')).status).toBe(400);
    // A private page: a visitor with a valid token is still not signed in.
    expect((await subscribeAsVisitor(t, 'acme-health', 'email=bo%40example.com', undefined, 'northwind')).status).toBe(401);
  });

  it('refuses a subscription form without the visitor\'s own pre-session CSRF token (another site making visitors\' browsers send it)', async () => {
    // What a form on another site sends: no cookie of ours (SameSite=Lax), no token.
    const forged = await t.http.post('/status/globex/subscribe').type('form').send('email=eve%40example.com');
    expect(forged.status).toBe(403);
    expect(forged.text).toContain('csrf_invalid');
    // A token taken from another visitor's page does not go with this visitor's cookie.
    const attacker = supertest.agent(t.app.handleRequest);
    const stolen = /name="_csrf" value="([^"]+)"/.exec((await attacker.get('/status/globex').expect(200)).text)![1]!;
    const victim = supertest.agent(t.app.handleRequest);
    await victim.get('/status/globex').expect(200);
    await victim.post('/status/globex/subscribe').type('form').send(`email=eve%40example.com&_csrf=${encodeURIComponent(stolen)}`).expect(403);
    expect(await mailsTo('eve@example.com')).toEqual([]);
    // The page sets the pre-session cookie and is not for shared caches any more.
    const page = await supertest(t.app.handleRequest).get('/status/globex').expect(200);
    expect(String(page.headers['set-cookie'])).toContain('incidentd_presession=');
    expect(page.headers['cache-control']).toBe('private, no-cache');
  });

  it('private page: a contact subscribes only their own address; confirm and unsubscribe work from the mail without signing in', async () => {
    const carol = await t.tokenFor('client_contact', { clientId: 'acme-health', email: 'carol@acme.example' });
    await t.http.post('/status/acme-health/subscribe').set('Authorization', `Bearer ${carol}`).type('form').send('email=outsider%40example.net').expect(200);
    expect(await mailsTo('outsider@example.net')).toEqual([]);
    const [confirmMail] = await mailsTo('carol@acme.example', 'status.subscription_confirm');
    const confirmToken = tokenIn(confirmMail!.body, 'subscription/confirm');
    // The links in the mail: no session, only the signed token.
    const anonymous = supertest(t.app.handleRequest);
    expect((await anonymous.get(`/status/acme-health/subscription/confirm?token=${confirmToken}`).expect(200)).text).toContain('Confirm subscription');
    await anonymous.post('/status/acme-health/subscription/confirm').type('form').send({ token: confirmToken }).expect(200);

    const id = await createIncident(t, desk, { client: 'acme-health', services: ['ah-ehr'], severity: 2 });
    await addNote(t, desk, id, 'The EHR is slow in all clinics.', 'public');
    await mailWritten();
    const [update] = await mailsTo('carol@acme.example', 'status.incident_update');
    expect(update!.body).toContain('The EHR is slow in all clinics.');
    const unsubscribeUrl = new URL(update!.body.match(/https?:\/\/\S+\/unsubscribe\?token=\S+/)![0]);
    await anonymous.get(`${unsubscribeUrl.pathname}${unsubscribeUrl.search}`).expect(200);
    await anonymous.post(`${unsubscribeUrl.pathname}${unsubscribeUrl.search}`).type('form').send('List-Unsubscribe=One-Click').expect(200);
    expect(await t.orm.em.fork().findOneOrFail(StatusSubscriberSchema, { email: 'carol@acme.example' })).toMatchObject({ unsubscribedAt: expect.any(Date) });
    // A token for another client's page does nothing here.
    await anonymous.post('/status/globex/unsubscribe').type('form').send({ token: unsubscribeUrl.searchParams.get('token') }).expect(400);
  });

  it('stops mailing outside subscribers once a page is made private; its own contacts keep their mail', async () => {
    const confirmLatest = async (email: string) => {
      const [mail] = (await mailsTo(email, 'status.subscription_confirm')).slice(-1);
      await t.http.post('/status/globex/subscription/confirm').type('form').send({ token: tokenIn(mail!.body, 'subscription/confirm') }).expect(200);
    };
    expect((await subscribeAsVisitor(t, 'globex', 'email=olga%40example.org')).status).toBe(200);
    await t.tokenFor('client_contact', { clientId: 'globex', email: 'gina@globex.example' });
    expect((await subscribeAsVisitor(t, 'globex', 'email=gina%40globex.example')).status).toBe(200);
    await confirmLatest('olga@example.org');
    await confirmLatest('gina@globex.example');

    const globex = t.configStore.current.clients.find((client) => client.id === 'globex')!;
    globex.statusPage.public = false;
    try {
      const id = await createIncident(t, desk, { client: 'globex', services: ['gx-trading-portal'], severity: 2 });
      await addNote(t, desk, id, 'Trading is delayed.', 'public');
      await mailWritten();
      expect(await mailsTo('olga@example.org', 'status.incident_update')).toEqual([]);
      expect(await mailsTo('gina@globex.example', 'status.incident_update')).toHaveLength(1);
    } finally {
      globex.statusPage.public = true;
    }
  });

  it('sends one address at most 5 subscription mails a day, across all clients\' pages', async () => {
    const subscriptionMails = async () => (await mailsTo('dan@example.com')).filter((mail) => mail.kind.startsWith('status.subscription_'));
    for (let i = 0; i < 7; i += 1) {
      expect((await subscribeAsVisitor(t, i % 2 ? 'globex' : 'northwind', 'email=dan%40example.com')).status).toBe(200);
      t.clock.advance(3_600_000);
    }
    expect(await subscriptionMails()).toHaveLength(5);
    t.clock.advance(24 * 3_600_000);
    expect((await subscribeAsVisitor(t, 'globex', 'email=dan%40example.com')).status).toBe(200);
    expect(await subscriptionMails()).toHaveLength(6);
  });
});
