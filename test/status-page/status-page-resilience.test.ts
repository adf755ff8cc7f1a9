import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerUrl } from '../support/global-setup';
import { TcpProxy } from '../support/tcp-proxy';
import { startTestApp, type TestApp } from '../support/test-app';
import { TestMaintenanceSource } from './status-page-support';

// The database behind a TCP proxy the test cuts: a real connection failure, not a mock.
const pgUrl = new URL(testServerUrl());
const proxy = new TcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
const maintenance = new TestMaintenanceSource();
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ databaseProxy: proxy, maintenance });
});
afterAll(async () => {
  t?.app.services.statusPages.stop();
  await proxy.restore();
  await t?.close();
  await proxy.stop();
});

const summary = async () => (await t.http.get('/status/northwind/api/v2/summary.json').expect(200)).body as { status: { indicator: string }; scheduled_maintenances: { id: string; status: string }[] };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('status page rebuilds by the clock', () => {
  it('keep coming after one failed (database away when maintenance starts): the page moves on by itself once it is back', { timeout: 45_000 }, async () => {
    expect((await summary()).status.indicator).toBe('none');
    const start = new Date(t.clock.now().getTime() + 1_000);
    maintenance.plan({ clientId: 'northwind', id: 'CHG-900', title: 'Database upgrade', description: '', serviceIds: ['nw-payments'], start, end: new Date(start.getTime() + 2 * 3_600_000), createdAt: t.clock.now(), updatedAt: t.clock.now() });
    await t.app.services.statusPages.refresh('northwind');
    expect((await summary()).scheduled_maintenances.map((m) => m.status)).toEqual(['scheduled']);

    // The page's own timer fires about a second from now, while the database is away; the
    // fake clock is already past the start, so that rebuild would show the maintenance.
    await proxy.cut();
    t.clock.set(new Date(start.getTime() + 60_000));
    // Long enough for the timed rebuild to fail (connections refused; the pool gives up after 5 s).
    await sleep(7_000);
    // Still answered, from memory, with what was last known.
    expect((await summary()).scheduled_maintenances.map((m) => m.status)).toEqual(['scheduled']);

    await proxy.restore();
    // Nobody refreshes, no event arrives: only the service's own retry can move the page on.
    const deadline = Date.now() + 25_000;
    let shown = await summary();
    while (shown.status.indicator !== 'maintenance' && Date.now() < deadline) {
      await sleep(250);
      shown = await summary();
    }
    expect(shown.status.indicator).toBe('maintenance');
    expect(shown.scheduled_maintenances.map((m) => m.status)).toEqual(['in_progress']);
  });
});
