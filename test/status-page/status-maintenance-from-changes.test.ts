import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
