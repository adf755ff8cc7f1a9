import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { connected, connectError, nextEvent } from '../support/socket-events';
import { listenWithRealtime } from '../support/realtime-server';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let http: Awaited<ReturnType<typeof listenWithRealtime>>;
let base: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  t = await startTestApp();
  // Re-checks who is behind each socket every 200 ms instead of every minute.
  http = await listenWithRealtime(t, { reauthenticateMs: 200 });
  base = http.base;
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await http?.close();
  await t?.close();
});

function open(token?: string, origin?: string): Socket {
  const socket = connect(`${base}/staff`, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false, ...(origin ? { extraHeaders: { Origin: origin } } : {}) });
  sockets.push(socket);
  return socket;
}



describe('staff socket namespace', () => {
  it('refuses connections without a token, with a wrong token, and from client contacts', async () => {
    expect(await connectError(open())).toBe('unauthenticated');
    expect(await connectError(open('idt_wrong-token-00000000000000000000'))).toBe('unauthenticated');
    expect(await connectError(open(await t.tokenFor('client_contact', { clientId: 'globex' })))).toBe('forbidden: staff only');
  });

  it('pushes incident changes to staff live, and per-incident rooms only to those allowed to see it', async () => {
    const desk = open(await t.tokenFor('service_desk'));
    await connected(desk);

    const created = nextEvent<{ id: string; kind: string; clientId: string; severity: number }>(desk, 'incident.changed', (p) => p.kind === 'created');
    await t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(alertmanagerPayload('{}:{alertname="LiveTest"}', [{ labels: { alertname: 'LiveTest', client: 'globex', severity: 'high' } }]));
    const event = await created;
    expect(event).toMatchObject({ kind: 'created', clientId: 'globex', severity: 2 });

    const ack = await desk.emitWithAck('subscribe:incident', event.id);
    expect(ack).toEqual({ ok: true, room: `incident:${event.id.slice(4)}` });
    expect(await desk.emitWithAck('subscribe:incident', 'INC-999999')).toEqual({ ok: false, error: 'not_found' });

    const updated = nextEvent<{ id: string; state: string }>(desk, 'incident.changed', (p) => p.id === event.id && p.state === 'investigating');
    await t.http.post(`/api/v1/incidents/${event.id}/acknowledge`).set('Authorization', `Bearer ${await t.tokenFor('tier2')}`).send({});
    expect((await updated).state).toBe('investigating');
  });

  it('does not tell staff outside the security team about security incidents', async () => {
    const [deskToken, adminToken] = [await t.tokenFor('service_desk'), await t.tokenFor('admin')];
    const desk = open(deskToken);
    const admin = open(adminToken);
    await Promise.all([desk, admin].map(connected));
    const seenByDesk: string[] = [];
    desk.on('incident.changed', (payload: { id: string }) => seenByDesk.push(payload.id));
    const adminSaw = nextEvent<{ id: string; kind: string }>(admin, 'incident.changed', (p) => p.kind === 'created');

    const created = await t.http.post('/api/v1/incidents').set('Authorization', `Bearer ${deskToken}`).send({ title: 'Ransomware note on file share', client: 'acme-health', severity: 1, source: 'phone', category: 'security' });
    expect((await adminSaw).id).toBe(created.body.id);
    // The desk socket got nothing; by now it would have (the admin's copy has arrived).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seenByDesk).not.toContain(created.body.id);
    expect(await desk.emitWithAck('subscribe:incident', created.body.id)).toEqual({ ok: false, error: 'not_found' });
  });

  it('joins client rooms only for configured clients', async () => {
    const desk = open(await t.tokenFor('service_desk'));
    await connected(desk);
    expect(await desk.emitWithAck('subscribe:client', 'northwind')).toEqual({ ok: true, room: 'client:northwind' });
    expect(await desk.emitWithAck('subscribe:client', 'initech')).toEqual({ ok: false, error: 'not_found' });
  });

  it('refuses browser connections from pages of other sites', async () => {
    const token = await t.tokenFor('service_desk');
    const foreign = open(token, 'http://evil.example');
    expect(await connectError(foreign)).toBeTruthy();
    const sameSite = open(token, base);
    await connected(sameSite);
  });

  it('drops the connection of a user who is disabled meanwhile', async () => {
    const email = 'leaver@test.example';
    const socket = open(await t.tokenFor('tier2', { email }));
    await connected(socket);
    const dropped = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
    await t.app.services.users.disableUser(email, { type: 'system', name: 'test' });
    expect(await dropped).toBe('io server disconnect');
  });
});
