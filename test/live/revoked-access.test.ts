import supertest from 'supertest';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG } from '../support/test-app';
import { runCli } from '../support/daemon-process';
import { listenWithRealtime } from '../support/realtime-server';
import { connected } from '../support/socket-events';
import { startTestApp, type TestApp } from '../support/test-app';

// Live connections are re-checked every minute (the default, kept here); revoked access
// must end them long before that, once the revoking transaction has committed.
const AT_ONCE_MS = 5_000;

let t: TestApp;
let http: Awaited<ReturnType<typeof listenWithRealtime>>;
const sockets: Socket[] = [];
const system = { type: 'system' as const, name: 'test' };

beforeAll(async () => {
  t = await startTestApp();
  http = await listenWithRealtime(t);
  await t.app.listeningForRevokedAccess();
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await http?.close();
  await t?.close();
});

function open(namespace: string, options: { token?: string; cookie?: string }): Socket {
  const socket = connect(`${http.base}${namespace}`, { auth: options.token ? { token: options.token } : {}, transports: ['websocket'], reconnection: false, ...(options.cookie ? { extraHeaders: { Cookie: options.cookie } } : {}) });
  sockets.push(socket);
  return socket;
}

/** Resolves when the server drops `socket`. */
function dropped(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => socket.once('disconnect', (reason) => (reason === 'io server disconnect' ? resolve() : reject(new Error(`disconnected for another reason: ${reason}`)))));
}

/** `promise`, or a failure if it has not settled `ms` after this call. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`still connected ${ms} ms after access was revoked`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Signs in with the form; returns the browser and its session cookie. */
async function signIn(email: string, password: string) {
  const browser = supertest.agent(t.app.handleRequest);
  const page = await browser.get('/login');
  const res = await browser.post('/login').type('form').send({ email, password, _csrf: /name="_csrf" value="([^"]+)"/.exec(page.text)![1] });
  expect(res.status).toBe(303);
  const cookie = (res.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('incidentd_session='))!.split(';')[0]!;
  return { browser, cookie };
}

describe('revoked access ends live connections at once', () => {
  it('drops every live connection of a user disabled from the command line (another process)', async () => {
    const email = 'leaver.cli@test.example';
    const token = await t.tokenFor(['tier2'], { email });
    const staff = open('/staff', { token });
    const bridge = open('/bridge', { token });
    await Promise.all([connected(staff), connected(bridge)]);
    const drops = Promise.all([dropped(staff), dropped(bridge)]);

    await runCli(['user', 'disable', email], { DATABASE_URL: t.db.url, INCIDENTD_CONFIG: EXAMPLE_CONFIG });
    await within(drops, AT_ONCE_MS);
  }, 60_000);

  it('drops the live connections of the other sessions when the password changes, and keeps this one', async () => {
    const created = await t.app.services.users.addUser({ name: 'Ola', email: 'ola@test.example', roles: ['incident_manager'] }, system);
    const password = 'correct horse ola battery staple';
    await t.app.services.users.changePassword(created.id, created.password, password, system);
    const here = await signIn(created.email, password);
    const elsewhere = await signIn(created.email, password);
    const [mine, theirs] = [open('/staff', { cookie: here.cookie }), open('/staff', { cookie: elsewhere.cookie })];
    await Promise.all([connected(mine), connected(theirs)]);
    const theirsDropped = dropped(theirs);

    const form = await here.browser.get('/account/password');
    const newPassword = 'an entirely new passphrase for ola';
    await here.browser.post('/account/password').type('form').send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(form.text)![1], currentPassword: password, newPassword, confirmPassword: newPassword });
    await within(theirsDropped, AT_ONCE_MS);
    // The connection of the session the password was changed from is still live.
    expect(await mine.emitWithAck('subscribe:client', 'northwind')).toEqual({ ok: true, room: 'client:northwind' });
    expect(mine.connected).toBe(true);
  });
});
