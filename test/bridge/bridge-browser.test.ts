import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signedInContext } from '../support/browser';
import { recordImplementedChange } from '../support/implemented-change';
import { listenWithRealtime } from '../support/realtime-server';
import { REPO_ROOT, startTestApp, type TestApp } from '../support/test-app';

// Two people on one bridge in real Chromium: what one does, the other sees within a
// second; both see each other; a stale edit is refused.
let t: TestApp;
let http: Awaited<ReturnType<typeof listenWithRealtime>>;
let base: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

beforeAll(async () => {
  t = await startTestApp();
  // The page counts down against the browser's clock: the app runs on real time here.
  t.clock.set(new Date());
  http = await listenWithRealtime(t);
  base = http.base;
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await http?.close();
  await t?.close();
});

/** A page on the bridge whose live messages from the server can be held back for a while (a slow link). */
interface BridgePage {
  page: Page;
  holdLiveUpdates(): void;
  releaseLiveUpdates(): void;
}

async function openBridge(email: string, name: string, id: string): Promise<BridgePage> {
  const context = await signedInContext(browser, t, base, { name, email, roles: ['incident_manager'] });
  contexts.push(context);
  const page = await context.newPage();
  let holding = false;
  const held: (string | Buffer)[] = [];
  let deliver: (message: string | Buffer) => void = () => {};
  await page.routeWebSocket(/\/socket\.io\//, (socket) => {
    const server = socket.connectToServer();
    deliver = (message) => socket.send(message);
    server.onMessage((message) => (holding ? held.push(message) : socket.send(message)));
    socket.onMessage((message) => server.send(message));
  });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('response', (response) => {
    // (Browsers ask for /favicon.ico on their own; there is none.)
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) errors.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(`${base}/bridge/${id}`);
  await page.locator('#b-status', { hasText: 'Live.' }).waitFor({ timeout: 5000 });
  expect(errors, errors.join("\n")).toEqual([]);
  return {
    page,
    holdLiveUpdates: () => {
      holding = true;
    },
    releaseLiveUpdates: () => {
      holding = false;
      for (const message of held.splice(0)) deliver(message);
    },
  };
}

describe('the bridge in a browser (INC-11)', () => {
  it('shows two responders each other and every action live, and refuses a stale edit', async () => {
    const token = await t.tokenFor('incident_manager');
    // A database change finished 20 minutes ago: the bridge shows it as a suspect.
    const dbChange = await recordImplementedChange(t, { cis: ['nw-db-01'], start: new Date(Date.now() - 40 * 60_000), end: new Date(Date.now() - 20 * 60_000) });
    const created = await t.http.post('/api/v1/incidents').set('Authorization', `Bearer ${token}`).send({ title: 'Checkout <b>down</b>', client: 'northwind', services: ['nw-webshop'], cis: ['nw-web-01'], source: 'staff', severity: 1 });
    const id = created.body.id as string;

    const helenOnBridge = await openBridge('helen.carter@precision.example', 'Helen Carter', id);
    const danielOnBridge = await openBridge('daniel.reyes@precision.example', 'Daniel Reyes', id);
    const [helen, daniel] = [helenOnBridge.page, danielOnBridge.page];

    // Presence: both pages list both people.
    for (const page of [helen, daniel]) {
      await page.locator('#b-presence li[data-email="daniel.reyes@precision.example"]').waitFor({ timeout: 1000 });
      await page.locator('#b-presence li[data-email="helen.carter@precision.example"]').waitFor({ timeout: 1000 });
    }
    // The title is text, not markup.
    expect(await helen.locator('#b-title').textContent()).toBe('Checkout <b>down</b>');

    // A note added on one page appears on the other within a second.
    await helen.fill('#f-note input[name=text]', 'Payment provider confirms an outage on their side <script>alert(1)</script>');
    await helen.click('#f-note button');
    await daniel.locator('#b-timeline li', { hasText: 'Payment provider confirms an outage' }).waitFor({ timeout: 1000 });
    expect(await daniel.locator('#b-timeline script').count()).toBe(0);

    // Role assignment, task and public update, each seen by the other page.
    await daniel.selectOption('#f-role select[name=role]', 'commander');
    await daniel.fill('#f-role input[name=email]', 'daniel.reyes@precision.example');
    await daniel.click('#f-role button');
    await helen.locator('#b-roles li[data-role="commander"]', { hasText: 'Daniel Reyes' }).waitFor({ timeout: 1000 });
    await helen.fill('#f-task input[name=title]', 'Switch payments to the backup provider');
    await helen.click('#f-task button');
    await daniel.locator('#b-tasks tbody tr', { hasText: 'Switch payments to the backup provider' }).waitFor({ timeout: 1000 });
    await daniel.selectOption('#u-template', 'identified');
    await daniel.click('#f-update button');
    await helen.locator('#b-timeline li.public', { hasText: 'We have identified the cause' }).waitFor({ timeout: 1000 });
    await helen.locator('#b-updates-sent', { hasText: '1' }).waitFor({ timeout: 1000 });
    await helen.locator('#b-messages li', { hasText: 'comms.initial to it-ops@northwind.example: pending' }).waitFor({ timeout: 1000 });
    expect(await helen.locator('#b-next-update').textContent()).toMatch(/^in \d+:\d\d$/);

    // Daniel's link is slow: he has not seen Helen's change when he edits the same task.
    // His stale edit is refused, he is told, and his page catches up with Helen's.
    const taskSelect = (page: Page) => page.locator('#b-tasks select').first();
    danielOnBridge.holdLiveUpdates();
    await taskSelect(helen).selectOption('done');
    await helen.locator('#b-timeline li', { hasText: 'Switch payments to the backup provider": done' }).waitFor({ timeout: 1000 });
    await taskSelect(daniel).selectOption('cancelled');
    await daniel.locator('#b-status', { hasText: 'Not saved: someone changed the task since you loaded it' }).waitFor({ timeout: 2000 });
    danielOnBridge.releaseLiveUpdates();
    await expect.poll(() => taskSelect(daniel).inputValue(), { timeout: 2000 }).toBe('done');
    const tasks = (await t.http.get(`/api/v1/incidents/${id}/bridge`).set('Authorization', `Bearer ${token}`)).body.tasks;
    expect(tasks).toEqual([expect.objectContaining({ status: 'done', version: 2 })]);

    // Confirming the suspect on one page shows the cause and its backout plan on the other.
    // The change was recorded as successful: Helen says how it really went (IMP-04).
    const suspect = (page: Page) => page.locator(`#b-suspects li[data-change="${dbChange}"]`);
    await suspect(helen).filter({ hasText: 'which nw-web-01 depends on' }).waitFor({ timeout: 1000 });
    expect(await suspect(helen).locator('button').allTextContents()).toEqual(['Caused it: the change failed', 'Caused it: it worked, with issues', 'Not it']);
    await suspect(helen).locator('button[data-outcome="failed"]').click();
    await suspect(daniel).filter({ hasText: 'confirmed' }).waitFor({ timeout: 1000 });
    await suspect(daniel).filter({ hasText: 'Backout plan: restore the previous postgresql.conf' }).waitFor({ timeout: 1000 });
    expect(await suspect(daniel).locator('button').count()).toBe(0);
    expect((await t.http.get(`/api/v1/changes/${dbChange}`).set('Authorization', `Bearer ${token}`)).body.outcome).toBe('failed');

    mkdirSync(ARTIFACTS, { recursive: true });
    await helen.screenshot({ path: path.join(ARTIFACTS, 'bridge.png'), fullPage: true });

    // Leaving the bridge shows on the other page.
    await daniel.close();
    await helen.locator('#b-presence li[data-email="daniel.reyes@precision.example"]').waitFor({ state: 'detached', timeout: 2000 });
  }, 60_000);
});
