import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let adminToken: string;

beforeAll(async () => {
  t = await startTestApp();
  adminToken = await t.tokenFor('admin', { email: 'root@test.example' });
});
afterAll(async () => t?.close());

const bearer = () => ({ Authorization: `Bearer ${adminToken}` });

describe('audit trail', () => {
  it('records a state change with actor, action, entity, before, after and time', async () => {
    await t.tokenFor('tier3', { email: 'bob@test.example' });
    await t.app.services.users.disableUser('bob@test.example', { type: 'user', id: 1, name: 'root@test.example' });

    const res = await t.http.get('/api/v1/audit?entity=user').set(bearer());
    expect(res.status).toBe(200);
    const disabled = res.body.events.find((e: { action: string }) => e.action === 'user.disabled');
    expect(disabled).toMatchObject({
      actor: { type: 'user', id: '1', name: 'root@test.example' },
      entity: { type: 'user' },
      before: { disabled: false },
      after: { disabled: true },
    });
    expect(disabled.at).toBe(t.clock.now().toISOString());
    const created = res.body.events.find((e: { action: string; after: { email: string } }) => e.action === 'user.created' && e.after.email === 'bob@test.example');
    expect(created.after).toMatchObject({ roles: ['tier3'] });
    // No credential ever lands in the trail.
    expect(JSON.stringify(res.body)).not.toMatch(/idt_|password|\$argon2/);
  });

  it('records the request id of an API action', async () => {
    const res = await t.http.post('/-/reload').set(bearer()).set('X-Request-Id', 'req-audit-42');
    expect(res.status).toBe(200);
    const trail = await t.http.get('/api/v1/audit?entity=config').set(bearer());
    expect(trail.body.events.at(-1)).toMatchObject({ action: 'config.reloaded', requestId: 'req-audit-42', actor: { name: 'root@test.example' } });
  });

  it('is refused UPDATE, DELETE and TRUNCATE by the database itself', async () => {
    const connection = t.orm.em.getConnection();
    await expect(connection.execute("update audit_event set action = 'forged'")).rejects.toThrow(/append-only: UPDATE is not allowed/);
    await expect(connection.execute('delete from audit_event')).rejects.toThrow(/append-only: DELETE is not allowed/);
    await expect(connection.execute('truncate audit_event')).rejects.toThrow(/append-only: TRUNCATE is not allowed/);
    const [{ count }] = await connection.execute<{ count: string }[]>("select count(*) from audit_event where action = 'forged'");
    expect(Number(count)).toBe(0);
  });

  it('exports the trail as JSON lines, one event per line, oldest first', async () => {
    const res = await t.http.get('/api/v1/audit/export').set(bearer()).buffer(true).parse((response, done) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => done(null, text));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = (res.body as string).trim().split('\n').map((line) => JSON.parse(line));
    const [{ count }] = await t.orm.em.getConnection().execute<{ count: string }[]>('select count(*) from audit_event');
    expect(lines).toHaveLength(Number(count));
    const ids = lines.map((line) => Number(line.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('pages with ?after= and filters by one record', async () => {
    const first = await t.http.get('/api/v1/audit?limit=1').set(bearer());
    expect(first.body.events).toHaveLength(1);
    expect(first.body.next).toBe(first.body.events[0].id);
    const second = await t.http.get(`/api/v1/audit?limit=1&after=${first.body.next}`).set(bearer());
    expect(Number(second.body.events[0].id)).toBeGreaterThan(Number(first.body.next));

    const entityId = first.body.events[0].entity.id;
    const one = await t.http.get(`/api/v1/audit?entity=user:${entityId}`).set(bearer());
    expect(one.body.events.every((e: { entity: { id: string } }) => e.entity.id === entityId)).toBe(true);
  });
});
