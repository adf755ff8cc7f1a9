import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/platform/logger';
import { REPO_ROOT, startTestApp, type TestApp } from '../support/test-app';
import { addNote, createIncident, TestMaintenanceSource, transition } from './status-page-support';

let t: TestApp;
let desk: string;
const maintenance = new TestMaintenanceSource();

beforeAll(async () => {
  t = await startTestApp({ maintenance });
  desk = await t.tokenFor('service_desk');
});
afterAll(async () => {
  t?.app.services.statusPages.stop();
  await t?.close();
});

const json = async (client: string, endpoint: string) => (await t.http.get(`/status/${client}/api/v2/${endpoint}`).expect(200)).body;
const componentOf = (summary: { components: { id: string; status: string }[] }, id: string) => summary.components.find((c) => c.id === id);

/** Waits until the cache has caught up with the bus event of the last write. */
async function settled(client: string) {
  await t.app.services.statusPages.refresh(client);
}

describe('status page: Statuspage v2 JSON', () => {
  it('lists the public status pages, and knows no unknown client', async () => {
    const index = await t.http.get('/status').expect(200);
    expect(index.text).toContain('Northwind Traders - Service Status');
    expect(index.text).toContain('/status/globex');
    expect(index.text).not.toContain('/status/acme-health');
    await t.http.get('/status/no-such-client').expect(404);
    await t.http.get('/status/no-such-client/api/v2/summary.json').expect(404);
  });

  it('answers summary.json with the Statuspage field names: page, components (with groups), incidents, scheduled_maintenances, status', async () => {
    const summary = await json('northwind', 'summary.json');
    expect(Object.keys(summary).sort()).toEqual(['components', 'incidents', 'page', 'scheduled_maintenances', 'status']);
    expect(summary.page).toEqual({ id: 'northwind', name: 'Northwind Traders - Service Status', url: 'http://127.0.0.1:8080/status/northwind', time_zone: 'Europe/London', updated_at: expect.any(String) });
    expect(summary.status).toEqual({ indicator: 'none', description: 'All Systems Operational' });
    const webshop = componentOf(summary, 'nw-webshop');
    expect(webshop).toEqual({
      id: 'nw-webshop',
      name: 'Web shop',
      status: 'operational',
      created_at: expect.any(String),
      updated_at: expect.any(String),
      position: 1,
      description: 'Public online store at shop.northwind.example',
      showcase: true,
      start_date: null,
      group_id: 'group-online',
      page_id: 'northwind',
      group: false,
      only_show_if_degraded: false,
    });
    expect(summary.components.find((c: { id: string }) => c.id === 'group-online')).toMatchObject({ group: true, name: 'Online', components: ['nw-webshop', 'nw-payments'] });
    // Services that are not public are not components.
    expect(componentOf(summary, 'nw-store-pos')).toBeUndefined();
    for (const endpoint of ['status.json', 'components.json', 'incidents.json', 'incidents/unresolved.json', 'scheduled-maintenances.json', 'scheduled-maintenances/upcoming.json', 'scheduled-maintenances/active.json']) {
      expect((await json('northwind', endpoint)).page.id).toBe('northwind');
    }
  });

  it('derives component status from open incidents by severity, and follows the incident to monitoring and resolved', async () => {
    const id = await createIncident(t, desk, { client: 'northwind', services: ['nw-webshop'], severity: 1 });
    await settled('northwind');
    let summary = await json('northwind', 'summary.json');
    expect(componentOf(summary, 'nw-webshop')!.status).toBe('major_outage');
    expect(componentOf(summary, 'group-online')!.status).toBe('major_outage');
    expect(summary.status).toEqual({ indicator: 'critical', description: 'Major System Outage' });
    expect(summary.incidents).toHaveLength(1);
    expect(summary.incidents[0]).toMatchObject({ id, name: 'Web shop: service disruption', status: 'investigating', impact: 'critical', resolved_at: null, page_id: 'northwind', incident_updates: [] });
    expect(summary.incidents[0].components.map((c: { id: string }) => c.id)).toEqual(['nw-webshop']);

    await addNote(t, desk, id, 'We are looking into failed checkouts.', 'public');
    await transition(t, desk, id, 'mitigated', { reason: 'failover' });
    await addNote(t, desk, id, 'A fix is in place; we are watching.', 'public');
    await settled('northwind');
    summary = await json('northwind', 'summary.json');
    expect(componentOf(summary, 'nw-webshop')!.status).toBe('operational');
    expect(summary.incidents[0].status).toBe('monitoring');
    expect(summary.incidents[0].incident_updates.map((u: { status: string; body: string }) => [u.status, u.body])).toEqual([
      ['monitoring', 'A fix is in place; we are watching.'],
      ['investigating', 'We are looking into failed checkouts.'],
    ]);
    expect(Object.keys(summary.incidents[0].incident_updates[0]).sort()).toEqual(['affected_components', 'body', 'created_at', 'display_at', 'id', 'incident_id', 'status', 'updated_at']);

    await transition(t, desk, id, 'resolved', { resolutionSummary: 'database failover' });
    await settled('northwind');
    expect((await json('northwind', 'incidents/unresolved.json')).incidents).toEqual([]);
    const [resolved] = (await json('northwind', 'incidents.json')).incidents;
    expect(resolved).toMatchObject({ id, status: 'resolved', resolved_at: expect.any(String), monitoring_at: expect.any(String) });
  });

  it('takes the status of a public update from the update (POST /incidents/{id}/updates), and never shows who posted it', async () => {
    const id = await createIncident(t, desk, { client: 'northwind', services: ['nw-payments'], severity: 2 });
    const poster = await t.tokenFor('service_desk', { email: 'poster@msp.example' });
    const posterName = (await t.http.get('/api/v1/me').set('Authorization', `Bearer ${poster}`).expect(200)).body.name as string;
    expect(posterName).toMatch(/^Test service_desk \d+$/);
    await t.http.post(`/api/v1/incidents/${id}/updates`).set('Authorization', `Bearer ${poster}`).send({ message: 'The cause is a faulty card reader firmware.', status: 'identified' }).expect(201);
    await settled('northwind');
    const [shown] = (await json('northwind', 'incidents/unresolved.json')).incidents;
    expect(shown).toMatchObject({ id, status: 'identified' });
    expect(shown.incident_updates[0]).toMatchObject({ status: 'identified', body: 'The cause is a faulty card reader firmware.' });
    // Whoever posted it stays internal: not in the JSON, the page, the incident page or the feed.
    // (Staff do see it: the update is there under the poster's e-mail, the actor's name.)
    expect((await t.http.get(`/api/v1/incidents/${id}`).set('Authorization', `Bearer ${desk}`)).text).toContain('"name":"poster@msp.example"');
    const bodies = [
      JSON.stringify(await json('northwind', 'summary.json')),
      JSON.stringify(await json('northwind', 'incidents.json')),
      (await t.http.get('/status/northwind').expect(200)).text,
      (await t.http.get(`/status/northwind/incidents/${id}`).expect(200)).text,
      (await t.http.get('/status/northwind/history.atom').expect(200)).text,
    ];
    for (const body of bodies) for (const name of [posterName, 'poster@msp.example', 'Test service_desk']) expect(body).not.toContain(name);
    // The lifecycle moving on wins over the older update's status.
    await transition(t, desk, id, 'resolved', { resolutionSummary: 'firmware rolled back' });
    await settled('northwind');
    expect((await json('northwind', 'incidents.json')).incidents.find((i: { id: string }) => i.id === id).status).toBe('resolved');
  });

  it('maps severities by the client configuration (Sev3 degraded, Sev4 nothing)', async () => {
    const sev3 = await createIncident(t, desk, { client: 'northwind', services: ['nw-email'], severity: 3 });
    const sev4 = await createIncident(t, desk, { client: 'northwind', services: ['nw-payments'], severity: 4 });
    await settled('northwind');
    const summary = await json('northwind', 'summary.json');
    expect(componentOf(summary, 'nw-email')!.status).toBe('degraded_performance');
    expect(componentOf(summary, 'nw-payments')!.status).toBe('operational');
    expect(summary.status.indicator).toBe('minor');
    for (const id of [sev3, sev4]) await transition(t, desk, id, 'resolved', { resolutionSummary: 'fixed' });
  });

  it('lets staff override a component until the override expires (audited)', async () => {
    const expiresAt = new Date(t.clock.now().getTime() + 3_600_000).toISOString();
    await t.http.post('/api/v1/status-pages/northwind/overrides').set('Authorization', `Bearer ${desk}`).send({ component: 'nw-email', status: 'partial_outage', reason: 'Microsoft 365 incident EX123', expiresAt }).expect(201);
    expect(componentOf(await json('northwind', 'components.json'), 'nw-email')!.status).toBe('partial_outage');
    await t.http.post('/api/v1/status-pages/northwind/overrides').set('Authorization', `Bearer ${await t.tokenFor('client_contact', { clientId: 'northwind' })}`).send({ component: 'nw-email', status: 'operational', reason: 'not allowed' }).expect(403);
    await t.http.post('/api/v1/status-pages/northwind/overrides').set('Authorization', `Bearer ${desk}`).send({ component: 'nw-store-pos', status: 'major_outage', reason: 'not public' }).expect(404);
    const audit = await t.http.get('/api/v1/audit?entityType=status_component').set('Authorization', `Bearer ${await t.tokenFor('admin')}`).expect(200);
    expect(JSON.stringify(audit.body)).toContain('status_page.override_set');

    t.clock.advance(2 * 3_600_000);
    await settled('northwind');
    expect(componentOf(await json('northwind', 'components.json'), 'nw-email')!.status).toBe('operational');
  });

  it('shows maintenance from the maintenance source: scheduled, then in progress (under maintenance), then completed', async () => {
    const start = new Date(t.clock.now().getTime() + 3_600_000);
    maintenance.plan({ clientId: 'northwind', id: 'CHG-204', title: 'Payment gateway upgrade', description: 'Card payments may be briefly unavailable.', serviceIds: ['nw-payments', 'nw-store-pos'], start, end: new Date(start.getTime() + 2 * 3_600_000), createdAt: t.clock.now(), updatedAt: t.clock.now() });
    await settled('northwind');
    let listed = await json('northwind', 'scheduled-maintenances.json');
    expect(listed.scheduled_maintenances).toHaveLength(1);
    expect(listed.scheduled_maintenances[0]).toMatchObject({ id: 'CHG-204', name: 'Payment gateway upgrade', status: 'scheduled', impact: 'maintenance', scheduled_for: start.toISOString() });
    expect(listed.scheduled_maintenances[0].components.map((c: { id: string }) => c.id)).toEqual(['nw-payments']);
    expect((await json('northwind', 'scheduled-maintenances/upcoming.json')).scheduled_maintenances).toHaveLength(1);

    t.clock.set(new Date(start.getTime() + 60_000));
    await settled('northwind');
    const summary = await json('northwind', 'summary.json');
    expect(componentOf(summary, 'nw-payments')!.status).toBe('under_maintenance');
    expect(summary.status).toEqual({ indicator: 'maintenance', description: 'Service Under Maintenance' });
    expect(summary.scheduled_maintenances[0].status).toBe('in_progress');

    t.clock.set(new Date(start.getTime() + 3 * 3_600_000));
    await settled('northwind');
    listed = await json('northwind', 'scheduled-maintenances.json');
    expect(listed.scheduled_maintenances[0].status).toBe('completed');
    expect(componentOf(await json('northwind', 'summary.json'), 'nw-payments')!.status).toBe('operational');
  });

  it('draws the outage into the 90-day uptime bars, and lists it in the history page and the Atom feed', async () => {
    const id = await createIncident(t, desk, { client: 'northwind', services: ['nw-webshop'], severity: 1 });
    await addNote(t, desk, id, 'The web shop is down.', 'public');
    t.clock.advance(2 * 3_600_000);
    await transition(t, desk, id, 'resolved', { resolutionSummary: 'restarted' });
    await settled('northwind');
    const page = (await t.http.get('/status/northwind').expect(200)).text;
    const webshop = page.slice(page.indexOf('data-uptime="nw-webshop"'), page.indexOf('data-uptime="nw-payments"'));
    expect(webshop).toMatch(/<li class="major_outage" title="\d+ \w+ 2026: Major outage 2 h 0 min"><\/li>/);
    expect(webshop).toMatch(/99\.\d\d % uptime/);
    expect((await t.http.get('/status/northwind/history').expect(200)).text).toContain(`/status/northwind/incidents/${id}`);
    const atom = await t.http.get('/status/northwind/history.atom').expect(200);
    expect(atom.headers['content-type']).toBe('application/atom+xml; charset=utf-8');
    expect(atom.text).toContain('<title>Web shop: service disruption: Investigating</title>');
    expect(atom.text).toContain('<content type="text">The web shop is down.</content>');
  });

  it('changes the uptime bars of an ongoing outage every quarter hour, not every rebuild, and keeps them out of the JSON ETag', async () => {
    const quarter = 15 * 60_000;
    const reported = Math.ceil(t.clock.now().getTime() / quarter) * quarter + 60_000;
    t.clock.set(new Date(reported));
    const id = await createIncident(t, desk, { client: 'northwind', services: ['nw-email'], severity: 1 });
    await settled('northwind');
    const uptimeOf = async () => {
      const page = (await t.http.get('/status/northwind').expect(200)).text;
      return { version: /<div id="uptime" data-version="([^"]+)"/.exec(page)![1], html: page.slice(page.indexOf('<div id="uptime"'), page.indexOf('</section>', page.indexOf('<div id="uptime"'))) };
    };
    const etagOf = async () => (await t.http.get('/status/northwind/api/v2/summary.json').expect(200)).headers.etag;
    const [firstUptime, firstEtag] = [await uptimeOf(), await etagOf()];
    // Rebuilds within the quarter hour (the page is rebuilt at least once a minute).
    for (const minutes of [1, 5, 13]) {
      t.clock.set(new Date(reported + minutes * 60_000));
      await settled('northwind');
      expect(await uptimeOf()).toEqual(firstUptime);
      expect(await etagOf()).toBe(firstEtag);
    }
    // Past the quarter hour the bars show the outage so far; the JSON is what it was.
    t.clock.set(new Date(reported + 20 * 60_000));
    await settled('northwind');
    const later = await uptimeOf();
    expect(later.version).not.toBe(firstUptime.version);
    expect(later.html).toContain('Major outage 14 min');
    expect(await etagOf()).toBe(firstEtag);
    await transition(t, desk, id, 'resolved', { resolutionSummary: 'fixed' });
  });

  it('shows the client logo from the configuration, allowed by the content security policy of the page', async () => {
    const globex = t.configStore.current.clients.find((client) => client.id === 'globex')!;
    globex.statusPage.logoUrl = 'https://cdn.globex.example/logo.svg';
    await settled('globex');
    const page = await t.http.get('/status/globex').expect(200);
    expect(page.text).toContain('<img class="logo" src="https://cdn.globex.example/logo.svg" alt="">');
    expect(page.headers['content-security-policy']).toMatch(/img-src 'self' data: https:\/\/cdn\.globex\.example;/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self';/);
  });

  it('answers a repeated request with 304 when nothing changed (ETag), and lets other sites read public JSON', async () => {
    const first = await t.http.get('/status/northwind/api/v2/status.json').expect(200);
    expect(first.headers['access-control-allow-origin']).toBe('*');
    await t.http.get('/status/northwind/api/v2/status.json').set('If-None-Match', first.headers.etag!).expect(304);
  });

  it('answers a built public page\'s JSON from the cache before Express (the summary.json throughput target), with the same body as the application route', async () => {
    await t.http.get('/status/northwind').expect(200); // the page is built
    const fast = await t.http.get('/status/northwind/api/v2/summary.json').expect(200);
    // Every response of the Express application carries a request id; the fast path's do not.
    expect(fast.headers['x-request-id']).toBeUndefined();
    expect(fast.headers['x-content-type-options']).toBe('nosniff');
    const throughExpress = await supertest(t.app.express).get('/status/northwind/api/v2/summary.json').expect(200);
    expect(throughExpress.headers['x-request-id']).toBeDefined();
    expect(fast.text).toBe(throughExpress.text);
    expect(fast.headers.etag).toBe(throughExpress.headers.etag);
  });
});

describe('status page: nothing internal leaks', () => {
  it('never shows internal notes, alert labels, CI names, staff names or the internal title; typed HTML is escaped', async () => {
    const labels = { alertname: 'NwDbDiskFull', client: 'northwind', service: 'nw-payments', instance: 'nw-db-01:9100', severity: 'critical', team: '<img src=x onerror=alert(1)>' };
    await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(alertmanagerPayload('{}:{alertname="NwDbDiskFull"}', [{ labels, annotations: { summary: 'Disk full on nw-db-01 <script>alert("label")</script>' } }])).expect(202);
    await t.app.services.alertProcessor.drain();
    const list = await t.http.get('/api/v1/incidents?client=northwind&open=true').set('Authorization', `Bearer ${desk}`).expect(200);
    const incident = list.body.items.find((i: { alertname: string }) => i.alertname === 'NwDbDiskFull');
    await t.http.post(`/api/v1/incidents/${incident.id}/assign`).set('Authorization', `Bearer ${desk}`).send({ team: 'tier3' }).expect(200);
    await addNote(t, desk, incident.id, 'INTERNAL: root password rotated on nw-db-01, ask Bob', 'internal');
    await addNote(t, desk, incident.id, 'Payments are failing. <script>alert("xss")</script>', 'public');
    await settled('northwind');

    const pages = [
      (await t.http.get('/status/northwind').expect(200)).text,
      (await t.http.get(`/status/northwind/incidents/${incident.id}`).expect(200)).text,
      (await t.http.get('/status/northwind/history').expect(200)).text,
      (await t.http.get('/status/northwind/history.atom').expect(200)).text,
      ...(await Promise.all(['summary.json', 'incidents.json'].map(async (e) => (await t.http.get(`/status/northwind/api/v2/${e}`).expect(200)).text))),
    ];
    for (const body of pages) {
      for (const secret of ['INTERNAL', 'root password', 'nw-db-01', 'NwDbDiskFull', 'Disk full', 'tier3', 'onerror', 'Test service_desk', 'user']) expect(body).not.toContain(secret);
    }
    // Pages and feed escape what staff typed; JSON carries it as data (application/json is never run).
    for (const body of pages.slice(0, 4)) expect(body).not.toContain('<script>alert');
    expect(pages[0]).toContain('Payments are failing. &lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;');
    expect(pages[0]).toContain('Payments API: service disruption');
    expect(JSON.parse(pages[4]!).incidents[0].incident_updates[0].body).toBe('Payments are failing. <script>alert("xss")</script>');
    await transition(t, desk, incident.id, 'resolved', { resolutionSummary: 'disk extended' });
  });

  it('does not show security incidents or cancelled ones', async () => {
    const secret = await createIncident(t, desk, { client: 'globex', services: ['gx-trading-portal'], severity: 1 });
    await t.http.post(`/api/v1/incidents/${secret}/security`).set('Authorization', `Bearer ${desk}`).send({ reason: 'possible breach' }).expect(200);
    const cancelled = await createIncident(t, desk, { client: 'globex', services: ['gx-email'], severity: 2 });
    await transition(t, desk, cancelled, 'cancelled', { reason: 'duplicate' });
    await settled('globex');
    const summary = await json('globex', 'summary.json');
    expect(summary.status.indicator).toBe('none');
    expect((await json('globex', 'incidents.json')).incidents).toEqual([]);
  });
});

describe('status page: a client whose page is not public', () => {
  it('is seen only by its own signed-in contacts and staff', async () => {
    await t.http.get('/status/acme-health/api/v2/summary.json').expect(401);
    const page = await t.http.get('/status/acme-health').expect(303);
    expect(page.headers.location).toBe('/login?next=%2Fstatus%2Facme-health');
    await t.http.get('/status/acme-health/api/v2/summary.json').set('Authorization', `Bearer ${await t.tokenFor('client_contact', { clientId: 'globex' })}`).expect(404);
    const own = await t.http.get('/status/acme-health/api/v2/summary.json').set('Authorization', `Bearer ${await t.tokenFor('client_contact', { clientId: 'acme-health' })}`).expect(200);
    expect(own.headers['cache-control']).toBe('private, no-store');
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    await t.http.get('/status/acme-health/api/v2/summary.json').set('Authorization', `Bearer ${desk}`).expect(200);
  });

  it('keeps its feed, history and incident pages to the same people', async () => {
    const id = await createIncident(t, desk, { client: 'acme-health', services: ['ah-vpn'], severity: 2 });
    await addNote(t, desk, id, 'Clinicians cannot connect from home.', 'public');
    await addNote(t, desk, id, 'INTERNAL: vpn concentrator licence expired', 'internal');
    await settled('acme-health');
    const own = await t.tokenFor('client_contact', { clientId: 'acme-health' });
    const other = await t.tokenFor('client_contact', { clientId: 'globex' });
    for (const path of ['/status/acme-health/history.atom', '/status/acme-health/history', `/status/acme-health/incidents/${id}`]) {
      await t.http.get(path).expect(401);
      await t.http.get(path).set('Authorization', `Bearer ${other}`).expect(404);
      const seen = await t.http.get(path).set('Authorization', `Bearer ${own}`).expect(200);
      expect(seen.headers['cache-control']).toBe('private, no-store');
      expect(seen.text).toContain('Clinicians cannot connect from home.');
      expect(seen.text).not.toContain('INTERNAL');
    }
    await transition(t, desk, id, 'resolved', { resolutionSummary: 'licence renewed' });
  });
});

describe('status page: Statuspage list limits and component dates', () => {
  it('lists the 50 most recent maintenances in scheduled-maintenances.json, as Statuspage does', async () => {
    const day = 86_400_000;
    for (let k = 1; k <= 55; k += 1) {
      const start = new Date(t.clock.now().getTime() - k * day);
      maintenance.plan({ clientId: 'globex', id: `CHG-${1000 + k}`, title: `Patch night ${k}`, description: '', serviceIds: ['gx-trading-portal'], start, end: new Date(start.getTime() + 3_600_000), createdAt: start, updatedAt: start });
    }
    await settled('globex');
    const listed = (await json('globex', 'scheduled-maintenances.json')).scheduled_maintenances;
    expect(listed).toHaveLength(50);
    expect(listed[0].id).toBe('CHG-1001');
    expect(listed.at(-1).id).toBe('CHG-1050');
  });

  it('dates components from the stored data, so a restarted daemon reports the same created_at and updated_at', async () => {
    const before = (await json('northwind', 'components.json')).components;
    t.clock.advance(3_600_000);
    // A second daemon on the same database and configuration, as after a restart.
    const restarted = await createApp({ configStore: t.configStore, orm: t.orm, clock: t.clock, logger: createLogger('silent'), rootDir: REPO_ROOT, maintenance });
    try {
      const after = JSON.parse((await restarted.services.statusPages.get('northwind')).documents['components.json'].toString()).components;
      const dates = (components: { id: string; created_at: string; updated_at: string }[], id: string) => {
        const found = components.find((c) => c.id === id)!;
        return { created_at: found.created_at, updated_at: found.updated_at };
      };
      // Components earlier tests had incidents, maintenance or overrides on.
      for (const id of ['nw-webshop', 'nw-payments', 'nw-email']) {
        expect(dates(after, id)).toEqual(dates(before, id));
        expect(dates(after, id).updated_at).not.toBe(t.clock.now().toISOString());
      }
    } finally {
      restarted.services.statusPages.stop();
    }
  });
});
