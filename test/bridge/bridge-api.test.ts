import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connected, connectError, nextEvent } from '../support/socket-events';
import { listenWithRealtime } from '../support/realtime-server';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let http: Awaited<ReturnType<typeof listenWithRealtime>>;
let base: string;
let manager: string;
let engineer: string;
const sockets: Socket[] = [];
const as = (token: string) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  t = await startTestApp();
  http = await listenWithRealtime(t, { reauthenticateMs: 200 });
  base = http.base;
  manager = await t.tokenFor('incident_manager', { email: 'helen.carter@precision.example' });
  engineer = await t.tokenFor('tier2', { email: 'grace.kim@precision.example' });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await http?.close();
  await t?.close();
});

async function open(body: Record<string, unknown> = {}) {
  const res = await t.http.post('/api/v1/incidents').set(as(manager)).send({ title: 'Checkout down', client: 'northwind', services: ['nw-webshop'], source: 'staff', severity: 1, ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

function bridgeSocket(token?: string): Socket {
  const socket = connect(`${base}/bridge`, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  return socket;
}
type Reply = { ok: boolean; error?: string; state?: { incident: { id: string; version: number }; events: { id: string; type: string; message: string }[]; roles: unknown[]; tasks: unknown[] } };
const join = (socket: Socket, incident: string, sinceEventId?: string) => new Promise<Reply>((resolve) => socket.emit('bridge:join', { incident, sinceEventId }, resolve));

describe('bridge over the API (INC-11)', () => {
  it('makes a Sev1 a major incident, and lets staff declare one', async () => {
    const sev1 = await open();
    expect((await t.http.get(`/api/v1/incidents/${sev1}`).set(as(manager))).body).toMatchObject({ major: true, majorDeclaredAt: '2026-03-02T10:00:00.000Z' });
    const sev3 = await open({ severity: 3 });
    const declared = await t.http.post(`/api/v1/incidents/${sev3}/major`).set(as(engineer)).send({ reason: 'three stores affected' });
    expect(declared.body.major).toBe(true);
    expect((await t.http.post(`/api/v1/incidents/${sev3}/major`).set(as(engineer)).send({ reason: 'again' })).status).toBe(409);
  });

  it('assigns and hands over roles in one action, each on the timeline', async () => {
    const id = await open();
    await t.http.post(`/api/v1/incidents/${id}/roles`).set(as(manager)).send({ role: 'commander', email: 'helen.carter@precision.example' }).expect(200);
    await t.http.post(`/api/v1/incidents/${id}/roles`).set(as(manager)).send({ role: 'commander', email: 'grace.kim@precision.example' }).expect(200);
    await t.http.post(`/api/v1/incidents/${id}/roles`).set(as(manager)).send({ role: 'custom:vendor liaison', email: 'helen.carter@precision.example' }).expect(200);
    expect((await t.http.post(`/api/v1/incidents/${id}/roles`).set(as(manager)).send({ role: 'king', email: 'helen.carter@precision.example' })).status).toBe(400);
    expect((await t.http.post(`/api/v1/incidents/${id}/roles`).set(as(manager)).send({ role: 'scribe', email: 'nobody@precision.example' })).status).toBe(400);
    const state = (await t.http.get(`/api/v1/incidents/${id}/bridge`).set(as(engineer))).body;
    expect(state.roles).toEqual([
      expect.objectContaining({ role: 'commander', email: 'grace.kim@precision.example' }),
      expect.objectContaining({ role: 'custom:vendor liaison', email: 'helen.carter@precision.example' }),
    ]);
    expect(state.accountManagers).toEqual([{ client: 'northwind', clientName: 'Northwind Traders', email: 'sarah.okafor@precision.example' }]);
    const messages = state.events.filter((event: { type: string }) => event.type === 'role').map((event: { message: string }) => event.message);
    expect(messages).toEqual([
      expect.stringMatching(/^commander: Test incident_manager \d+$/),
      expect.stringMatching(/^commander: handed over from Test incident_manager \d+ to Test tier2 \d+$/),
      expect.stringMatching(/^vendor liaison: Test incident_manager \d+$/),
    ]);
    await t.http.delete(`/api/v1/incidents/${id}/roles/commander`).set(as(manager)).expect(200);
    expect((await t.http.get(`/api/v1/incidents/${id}/bridge`).set(as(engineer))).body.roles.map((role: { role: string }) => role.role)).toEqual(['custom:vendor liaison']);
  });

  it('refuses a stale task edit with 409 and the current task', async () => {
    const id = await open();
    const task = (await t.http.post(`/api/v1/incidents/${id}/tasks`).set(as(manager)).send({ title: 'Fail over the database', owner: 'grace.kim@precision.example', dueAt: '2026-03-02T10:30:00Z' })).body;
    expect(task).toMatchObject({ status: 'open', owner: 'grace.kim@precision.example', version: 1 });
    const first = await t.http.patch(`/api/v1/incidents/${id}/tasks/${task.id}`).set(as(engineer)).send({ status: 'in_progress', expectedVersion: 1 });
    expect(first.body).toMatchObject({ status: 'in_progress', version: 2 });
    const stale = await t.http.patch(`/api/v1/incidents/${id}/tasks/${task.id}`).set(as(manager)).send({ status: 'cancelled', expectedVersion: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.details.current).toMatchObject({ status: 'in_progress', version: 2 });
    expect((await t.http.patch(`/api/v1/incidents/${id}/tasks/${task.id}`).set(as(manager)).send({ status: 'done' })).status).toBe(400);
  });

  it('keeps client contacts out of the bridge API and page', async () => {
    const id = await open();
    const contact = await t.tokenFor('client_contact', { clientId: 'northwind' });
    expect((await t.http.get(`/api/v1/incidents/${id}/bridge`).set(as(contact))).status).toBe(403);
    expect((await t.http.get(`/bridge/${id}`).set(as(contact))).status).toBe(403);
    expect((await t.http.get(`/bridge/${id}`)).status).toBe(303);
  });
});

describe('bridge socket', () => {
  it('refuses connections without a token and from client contacts', async () => {
    expect(await connectError(bridgeSocket())).toBe('unauthenticated');
    expect(await connectError(bridgeSocket(await t.tokenFor('client_contact', { clientId: 'northwind' })))).toBe('forbidden: incident responders only');
    // Staff without an incident role (e.g. only change management) do not get the bridge either.
    const changeManager = await t.tokenFor('change_manager');
    expect(await connectError(bridgeSocket(changeManager))).toBe('forbidden: incident responders only');
    expect((await t.http.get(`/bridge/${await open()}`).set(as(changeManager))).status).toBe(403);
  });

  it('shows who is on the bridge and pushes every change, including the timeline entries', async () => {
    const id = await open();
    const a = bridgeSocket(manager);
    const b = bridgeSocket(engineer);
    await Promise.all([connected(a), connected(b)]);
    const joined = await join(a, id);
    expect(joined.ok).toBe(true);
    expect(joined.state!.incident.id).toBe(id);
    const presence = nextEvent<{ people: { email: string }[] }>(a, 'bridge:presence', (message) => message.people.length === 2);
    await join(b, id);
    expect((await presence).people.map((person) => person.email).sort()).toEqual(['grace.kim@precision.example', 'helen.carter@precision.example']);

    const update = nextEvent<{ events: { type: string; message: string }[]; tasks: { title: string }[] }>(a, 'bridge:update', (message) => message.tasks.length > 0);
    await t.http.post(`/api/v1/incidents/${id}/tasks`).set(as(engineer)).send({ title: 'Call the payment provider' }).expect(201);
    const pushed = await update;
    expect(pushed.tasks.map((task) => task.title)).toEqual(['Call the payment provider']);
    expect(pushed.events.map((event) => event.message)).toContain('task: Call the payment provider');

    const gone = nextEvent<{ people: { email: string }[] }>(a, 'bridge:presence', (message) => message.people.length === 1);
    b.close();
    expect((await gone).people.map((person) => person.email)).toEqual(['helen.carter@precision.example']);
  });

  it('catches a reconnecting page up on what it missed, in order', async () => {
    const id = await open();
    const socket = bridgeSocket(manager);
    await connected(socket);
    const first = await join(socket, id);
    const lastSeen = first.state!.events.at(-1)!.id;
    socket.close();
    for (const text of ['one', 'two', 'three']) await t.http.post(`/api/v1/incidents/${id}/notes`).set(as(engineer)).send({ text }).expect(201);
    const again = bridgeSocket(manager);
    await connected(again);
    const caughtUp = await join(again, id, lastSeen);
    expect(caughtUp.state!.events.map((event) => event.message)).toEqual(['one', 'two', 'three']);
  });

  it('checks visibility on every join and push: security incidents and a security hand-off', async () => {
    const id = await open();
    const socket = bridgeSocket(engineer);
    await connected(socket);
    expect((await join(socket, id)).ok).toBe(true);
    const closed = nextEvent<{ reason: string }>(socket, 'bridge:closed');
    await t.http.post(`/api/v1/incidents/${id}/security`).set(as(manager)).send({ reason: 'credential stuffing suspected' }).expect(200);
    expect((await closed).reason).toBe('you can no longer see this incident');
    const again = bridgeSocket(engineer);
    await connected(again);
    expect(await join(again, id)).toEqual({ ok: false, error: 'not_found' });
    expect(await join(again, 'INC-999999')).toEqual({ ok: false, error: 'not_found' });
  });

  it('drops a socket whose user is disabled', async () => {
    const token = await t.tokenFor('tier3', { email: 'leaving@precision.example' });
    const socket = bridgeSocket(token);
    await connected(socket);
    const dropped = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
    await t.app.services.users.disableUser('leaving@precision.example', { type: 'cli', name: 'test' });
    await dropped;
  });
});
