import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { io as connect, type Socket } from 'socket.io-client';
import type { Server as SocketServer } from 'socket.io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { writeConfig } from '../support/daemon-process';
import { nextEvent } from '../support/socket-events';
import { REPO_ROOT, startTestApp, type TestApp } from '../support/test-app';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { addNote, createIncident, transition } from './status-page-support';
import { STATUSES_FIRST_ABOVE_BYTES } from '../../src/features/status-page/status-socket';

let t: TestApp;
let server: Server;
let io: SocketServer;
let base: string;
let desk: string;
let browser: Browser;
const sockets: Socket[] = [];

beforeAll(async () => {
  // A configuration file of its own, which a test rewrites and reloads.
  t = await startTestApp({ configFile: writeConfig({}) });
  server = createServer(t.app.handleRequest);
  io = t.app.attachRealtime(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  desk = await t.tokenFor('service_desk');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});
afterAll(async () => {
  await browser?.close();
  for (const socket of sockets) socket.close();
  t?.app.services.statusPages.stop();
  io?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await t?.close();
});

interface LiveState {
  version: string;
  html: string;
  indicator: string;
}

function open(client: string, extra: { token?: string; version?: string; uptime?: string } = {}): Socket {
  const socket = connect(`${base}/status`, { auth: { client, ...extra }, transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  return socket;
}

const nextState = (socket: Socket, matches?: (state: LiveState) => boolean) => nextEvent<LiveState>(socket, 'page', matches);

describe('status page live updates (socket.io /status)', () => {
  it('sends the current state on connect and every change afterwards, to every viewer from one rendering', async () => {
    const viewers = [open('globex'), open('globex'), open('globex')];
    const initial = await Promise.all(viewers.map((socket) => nextState(socket)));
    expect(initial[0]!.indicator).toBe('none');
    expect(new Set(initial.map((state) => state.version)).size).toBe(1);

    const critical = viewers.map((socket) => nextEvent<LiveState & { components: { id: string; status: string; label: string }[] }>(socket, 'page', (state) => state.indicator === 'critical'));
    const order = viewers.map((socket) => {
      const seen: string[] = [];
      socket.onAny((event: string, payload: { indicator?: string }) => payload.indicator === 'critical' && seen.push(event));
      return seen;
    });
    const outage = viewers.map((socket) => nextState(socket, (state) => state.html.includes('The trading portal is unavailable')));
    const id = await createIncident(t, desk, { client: 'globex', services: ['gx-trading-portal'], severity: 1 });
    // A small live part: one push carries the statuses, as HTML and as data.
    const [page] = await Promise.all(critical);
    expect(page!.components).toContainEqual({ id: 'gx-trading-portal', status: 'major_outage', label: 'Major outage' });
    expect(page!.html).toContain('Major outage');
    for (const seen of order) expect(seen[0]).toBe('page');
    await addNote(t, desk, id, 'The trading portal is unavailable. We are on it.', 'public');
    const pushed = await Promise.all(outage);
    expect(pushed[0]!.indicator).toBe('critical');
    expect(pushed[0]!.html).toContain('Major outage');
    expect(pushed.every((state) => state.html === pushed[0]!.html)).toBe(true);
  });

  it('on (re)connect sends only the parts that differ from the versions the page says it shows', async () => {
    const first = open('northwind');
    const [page, uptime] = await Promise.all([nextState(first), nextEvent<{ version: string }>(first, 'uptime')]);
    const received = (socket: Socket) => {
      const events: string[] = [];
      socket.onAny((event) => events.push(event));
      return events;
    };
    const current = open('northwind', { version: page.version, uptime: uptime.version });
    const staleText = open('northwind', { version: 'an-older-version', uptime: uptime.version });
    const [currentEvents, staleEvents] = [received(current), received(staleText)];
    await Promise.all([new Promise<void>((resolve) => current.once('connect', () => resolve())), nextState(staleText)]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(currentEvents).toEqual([]);
    expect(staleEvents).toEqual(['page']);
  });

  it('resyncs a contact\'s page of a private client after a reconnection, and refuses the reconnection once anonymous', async () => {
    const token = await t.tokenFor('client_contact', { clientId: 'acme-health' });
    const first = open('acme-health', { token });
    const shown = await nextState(first);
    first.close();
    const id = await createIncident(t, desk, { client: 'acme-health', services: ['ah-ehr'], severity: 1 });
    await addNote(t, desk, id, 'Records cannot be opened in any clinic.', 'public');
    await t.app.services.statusPages.refresh('acme-health');
    const again = open('acme-health', { token, version: shown.version });
    const resync = await nextState(again);
    expect(resync.html).toContain('Records cannot be opened in any clinic.');
    const anonymous = open('acme-health', { version: shown.version });
    expect(await new Promise<string>((resolve) => anonymous.once('connect_error', (error) => resolve(error.message)))).toBe('not_found');
    await transition(t, desk, id, 'resolved', { resolutionSummary: 'fixed' });
  });

  it('sends the statuses on their own ahead of a large live part', async () => {
    const viewer = open('northwind');
    await nextState(viewer);
    // Long public updates make the live part larger than STATUSES_FIRST_ABOVE_BYTES.
    const slow = await createIncident(t, desk, { client: 'northwind', services: ['nw-webshop'], severity: 3 });
    for (let i = 0; i < 4; i += 1) await addNote(t, desk, slow, `Update ${i}: ${'checkout is slower than usual while we investigate. '.repeat(100)}`, 'public');
    const large = await nextState(viewer, (state) => state.html.includes('Update 3:'));
    expect(Buffer.byteLength(large.html)).toBeGreaterThan(STATUSES_FIRST_ABOVE_BYTES);

    const seen: string[] = [];
    viewer.onAny((event: string, payload: { indicator?: string }) => payload.indicator === 'critical' && seen.push(event));
    const page = nextState(viewer, (state) => state.indicator === 'critical');
    const outage = await createIncident(t, desk, { client: 'northwind', services: ['nw-payments'], severity: 1 });
    await page;
    expect(seen.slice(0, 2)).toEqual(['status', 'page']);
    for (const id of [slow, outage]) await transition(t, desk, id, 'resolved', { resolutionSummary: 'fixed' });
  });

  it('refuses unknown clients, and non-public pages to anyone but their contacts and staff', async () => {
    const refused = (socket: Socket) => new Promise<string>((resolve) => socket.once('connect_error', (error) => resolve(error.message)));
    expect(await refused(open('no-such-client'))).toBe('not_found');
    expect(await refused(open('acme-health'))).toBe('not_found');
    expect(await refused(open('acme-health', { token: await t.tokenFor('client_contact', { clientId: 'globex' }) }))).toBe('not_found');
    const contact = open('acme-health', { token: await t.tokenFor('client_contact', { clientId: 'acme-health' }) });
    expect((await nextState(contact)).indicator).toBe('none');
  });

  it('on a configuration reload, disconnects anonymous viewers of a page made private and pushes the rebuilt pages at once', async () => {
    const globexViewer = open('globex');
    const northwindViewer = open('northwind');
    await Promise.all([nextState(globexViewer), nextState(northwindViewer)]);
    const disconnected = new Promise((resolve) => globexViewer.once('disconnect', resolve));
    const renamed = nextState(northwindViewer, (state) => state.html.includes('Online shop'));
    const original = readFileSync(t.configStore.file, 'utf8');
    const config = YAML.parse(original);
    config.clients.find((client: { id: string }) => client.id === 'globex').statusPage.public = false;
    config.services.find((service: { id: string }) => service.id === 'nw-webshop').name = 'Online shop';
    writeFileSync(t.configStore.file, YAML.stringify(config));
    try {
      expect(await t.app.reloadConfig({ type: 'system', name: 'test' })).toMatchObject({ ok: true });
      // Well before the periodic re-check (a minute here, as in production).
      const soon = <T>(promise: Promise<T>, what: string) => Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen within 3 s`)), 3_000))]);
      expect(await soon(disconnected, 'the disconnect')).toBe('io server disconnect');
      expect((await soon(renamed, 'the push of the rebuilt page')).html).toContain('Online shop');
      await t.http.get('/status/globex/api/v2/summary.json').expect(401);
    } finally {
      writeFileSync(t.configStore.file, original);
      expect(await t.app.reloadConfig({ type: 'system', name: 'test' })).toMatchObject({ ok: true });
    }
  });
});

describe('status page in a real browser (Chromium)', () => {
  it('shows a new incident and its public update without a reload, never runs typed HTML, and resyncs after a dropped connection', { timeout: 90_000 }, async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const scriptErrors: string[] = [];
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && !message.location().url.endsWith('/favicon.ico') && scriptErrors.push(message.text()));
    await page.goto(`${base}/status/northwind`);
    await page.waitForSelector('html[data-live="connected"]');
    expect(await page.textContent('.banner')).toContain('All Systems Operational');
    await page.evaluate(() => ((globalThis as unknown as { stillThisPage: boolean }).stillThisPage = true));

    const id = await createIncident(t, desk, { client: 'northwind', services: ['nw-webshop', 'nw-payments'], severity: 2 });
    await addNote(t, desk, id, 'Checkout is failing for some customers. <img src=x onerror="window.xssRan=true">', 'public');
    await page.waitForSelector('text=Checkout is failing for some customers.');
    expect(await page.textContent('.banner')).toContain('Partial System Outage');
    expect(await page.textContent('[data-component="nw-webshop"] .component-status')).toBe('Partial outage');
    expect(await page.textContent('#live')).toContain('<img src=x onerror="window.xssRan=true">');
    expect(await page.evaluate(() => (globalThis as unknown as { xssRan?: boolean }).xssRan)).toBeUndefined();
    expect(await page.evaluate(() => (globalThis as unknown as { stillThisPage?: boolean }).stillThisPage)).toBe(true);

    // An alert whose labels and annotations carry markup: its incident reaches the page
    // live (a new incident card, Email's status), and nothing of the alert comes with it.
    const labels = { alertname: '<img src=x onerror="window.labelXss=true">', client: 'northwind', service: 'nw-email', instance: '<script>window.labelXss=true</script>', severity: 'critical' };
    await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(alertmanagerPayload('{}:{alertname="xss"}', [{ labels, annotations: { summary: '<svg onload="window.labelXss=true">', description: '<b>labelXss</b>' } }])).expect(202);
    await t.app.services.alertProcessor.drain();
    await page.waitForSelector('[data-component="nw-email"][data-status="major_outage"]');
    await page.waitForSelector('text=Email: service disruption');
    expect(await page.content()).not.toContain('labelXss');
    expect(JSON.stringify(await (await fetch(`${base}/status/northwind/api/v2/summary.json`)).json())).not.toContain('labelXss');
    expect(await page.evaluate(() => (globalThis as unknown as { labelXss?: boolean }).labelXss)).toBeUndefined();

    mkdirSync(path.join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-artifacts/status-page.png'), fullPage: true });

    // Drop every connection and hold reconnections back while an update is made: it can only
    // arrive with the resync that follows the reconnection.
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    io.of('/status').use((_socket, next) => void gate.then(() => next()));
    // (A string: it runs in the page, whose DOM types the test's TypeScript does not load.)
    await page.evaluate(`{
      const root = document.documentElement;
      new MutationObserver(() => root.getAttribute('data-live') === 'disconnected' && root.setAttribute('data-saw-disconnect', 'yes')).observe(root, { attributes: true, attributeFilter: ['data-live'] });
    }`);
    for (const socket of io.of('/status').sockets.values()) socket.conn.close();
    await page.waitForSelector('html[data-saw-disconnect="yes"]');
    await addNote(t, desk, id, 'We have found the cause.', 'public');
    await t.app.services.statusPages.refresh('northwind');
    expect(await page.textContent('#live')).not.toContain('We have found the cause.');
    openGate();
    await page.waitForSelector('text=We have found the cause.', { timeout: 15_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { stillThisPage?: boolean }).stillThisPage)).toBe(true);
    expect(scriptErrors).toEqual([]);
    await page.close();
  });

  it('works without JavaScript', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${base}/status/northwind`);
    expect(await page.textContent('#live')).toContain('Web shop');
    expect(await page.locator('form[action$="/subscribe"]').count()).toBe(1);
    await context.close();
  });
});
