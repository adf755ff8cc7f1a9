import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusSubscriberSchema } from '../../src/features/status-page/status-page-entities';
import { rfc, startChangeTestApp } from '../changes/change-fixtures';
import type { TestApp } from '../support/test-app';

// The real maintenance source: RFCs scheduled through change management show on the
// client's status page, with public words only.
let t: TestApp;
let setup: Awaited<ReturnType<typeof startChangeTestApp>>;

beforeAll(async () => {
  setup = await startChangeTestApp();
  t = setup.t;
});
afterAll(async () => {
  t?.app.services.statusPages.stop();
  await t?.close();
});

describe('status page maintenance from change management (SCH-05, COM-01)', () => {
  it('shows a scheduled change as maintenance of the affected public service, titled by service, described by its expected impact', async () => {
    const id = await setup.steps.scheduled(setup.requester, setup.manager, rfc({ title: 'Upgrade nginx on nw-web-01 (ticket OPS-991)' }));
    await t.app.services.statusPages.refresh('northwind');
    const page = await t.http.get('/status/northwind/api/v2/scheduled-maintenances.json').expect(200);
    expect(page.body.scheduled_maintenances).toEqual([
      expect.objectContaining({ id, name: 'Planned maintenance: Web shop', status: 'scheduled', scheduled_for: '2026-03-10T20:00:00.000Z', scheduled_until: '2026-03-10T23:00:00.000Z' }),
    ]);
    expect(JSON.stringify(page.body)).not.toMatch(/nginx|nw-web-01|OPS-991/);
    expect(JSON.stringify(page.body)).toContain('Web shop unavailable for up to 5 minutes');
    const html = await t.http.get('/status/northwind').expect(200);
    expect(html.text).toContain('Planned maintenance: Web shop');
    expect(html.text).not.toMatch(/nginx|nw-web-01|OPS-991/);
  });

  it('leaves out changes that touch no public service, and names only the public ones', async () => {
    const internalOnly = await setup.steps.scheduled(setup.requester, setup.manager, rfc({ services: ['nw-store-pos'], cis: [], window: { start: '2026-03-12T20:00:00Z', end: '2026-03-12T22:00:00Z' } }));
    const both = await setup.steps.scheduled(setup.requester, setup.manager, rfc({ services: ['nw-webshop', 'nw-store-pos'], window: { start: '2026-03-13T20:00:00Z', end: '2026-03-13T22:00:00Z' } }));
    await t.app.services.statusPages.refresh('northwind');
    const listed = (await t.http.get('/status/northwind/api/v2/scheduled-maintenances.json').expect(200)).body.scheduled_maintenances as { id: string; name: string }[];
    expect(listed.map((maintenance) => maintenance.id)).not.toContain(internalOnly);
    expect(listed.find((maintenance) => maintenance.id === both)!.name).toBe('Planned maintenance: Web shop');
    expect(JSON.stringify(listed)).not.toContain('Store POS');
  });

  it('tells the subscribers of the affected components when maintenance is announced, completed or called off (COM-02)', async () => {
    await t.orm.em.fork().transactional(async (em) => {
      em.create(StatusSubscriberSchema, { clientId: 'northwind', email: 'shopper@example.org', componentIds: ['nw-webshop'], createdAt: t.clock.now(), confirmedAt: t.clock.now() });
      em.create(StatusSubscriberSchema, { clientId: 'northwind', email: 'pos-only@example.org', componentIds: ['nw-payments'], createdAt: t.clock.now(), confirmedAt: t.clock.now() });
    });
    const mails = async () => t.orm.em.fork().getConnection().execute<{ recipient: string; subject: string; body: string }[]>("select recipient, subject, body from notification where kind = 'status.maintenance' order by id");
    t.clock.set('2026-03-02T10:00:00Z');
    const kept = await setup.steps.scheduled(setup.requester, setup.manager, rfc({ title: 'Kernel update on nw-web-01', testResults: 'staging: fine', window: { start: '2026-03-16T20:00:00Z', end: '2026-03-16T22:00:00Z' } }));
    const dropped = await setup.steps.scheduled(setup.requester, setup.manager, rfc({ window: { start: '2026-03-17T20:00:00Z', end: '2026-03-17T22:00:00Z' } }));
    await t.app.services.statusPages.refresh('northwind');
    await t.app.services.statusSubscriptions.idle();
    let sent = await mails();
    const announced = sent.filter((mail) => mail.recipient === 'shopper@example.org' && mail.subject === '[Northwind Traders - Service Status] Scheduled: Planned maintenance: Web shop');
    expect(announced.length).toBeGreaterThanOrEqual(2);
    expect(announced[0]!.body).toContain('Mon 16 Mar 2026 20:00 GMT - Mon 16 Mar 2026 22:00 GMT');
    expect(announced[0]!.body).toContain('Unsubscribe with one click');
    expect(sent.some((mail) => mail.recipient === 'pos-only@example.org')).toBe(false);
    expect(JSON.stringify(sent)).not.toMatch(/Kernel|nw-web-01/);

    const cancelled = await setup.steps.act(setup.manager, dropped, 'cancel', { reason: 'not needed after all' });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    await t.app.services.statusPages.refresh('northwind');
    await t.app.services.statusSubscriptions.idle();
    sent = await mails();
    const about = (day: string, what: string) => sent.filter((mail) => mail.subject.includes(`] ${what}: Planned maintenance: Web shop`) && mail.body.includes(day));
    expect(about('Tue 17 Mar 2026 20:00', 'Called off')).toHaveLength(1);

    t.clock.set('2026-03-16T20:05:00Z');
    await setup.steps.act(setup.implementer, kept, 'start').expect(200);
    t.clock.set('2026-03-16T22:01:00Z');
    await t.app.services.statusPages.refresh('northwind');
    await t.app.services.statusSubscriptions.idle();
    sent = await mails();
    // (Earlier tests' maintenance windows have passed by now too: each is completed once.)
    expect(about('Mon 16 Mar 2026 20:00', 'Completed')).toHaveLength(1);
    expect(about('Mon 16 Mar 2026 20:00', 'Scheduled')).toHaveLength(1);
  });
});
