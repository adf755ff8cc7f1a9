import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  await t.tokenFor('incident_manager', { email: 'helen.carter@precision.example' });
  await t.tokenFor('incident_manager', { email: 'daniel.reyes@precision.example' });
});
afterAll(async () => t?.close());

describe('daily SLA digest', () => {
  it('is sent once per scheduled run, whichever replica gets there first, listing breached and at-risk incidents', async () => {
    const desk = await t.tokenFor('service_desk');
    const created = await t.http.post('/api/v1/incidents').set('Authorization', `Bearer ${desk}`).send({ title: 'Shop down', client: 'northwind', severity: 1, source: 'phone' });
    t.clock.advance(20 * 60_000);
    await t.app.services.timers.runDue();

    const scheduledFor = new Date('2026-03-03T08:00:00Z');
    // Two replicas fire the same cron at the same moment.
    const results = await Promise.all([t.app.services.slaDigest.run(scheduledFor), t.app.services.slaDigest.run(scheduledFor)]);
    expect(results.sort()).toEqual([false, true]);
    const rows = await t.orm.em.fork().getConnection().execute<{ recipient: string; subject: string; body: string }[]>("select recipient, subject, body from notification where kind = 'digest.sla' order by recipient");
    expect(rows.map((row) => row.recipient)).toEqual(['daniel.reyes@precision.example', 'helen.carter@precision.example']);
    expect(rows[0]!.subject).toMatch(/^SLA digest: 1 breached/);
    expect(rows[0]!.body).toContain(`${created.body.id} Shop down (northwind): response BREACHED`);
  });
});
