import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, rfc, startChangeTestApp } from './change-fixtures';

// Northwind's change policy is switched to ask for client validation; its approver contact
// is james.whitfield@northwind.example.
let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let implementer: string;
let manager: string;

beforeAll(async () => {
  ({ t, steps, requester, implementer, manager } = await startChangeTestApp());
  const current = t.configStore.current;
  t.configStore.replace({ ...current, clients: current.clients.map((client) => (client.id === 'northwind' ? { ...client, changePolicy: { ...client.changePolicy, clientValidation: true } } : client)) });
});
afterAll(async () => {
  t?.app.services.statusPages.stop();
  await t?.close();
});

/** A change on web-01 implemented on `day` (20:00-23:00 UTC) and completed successfully. */
async function completed(day: string) {
  t.clock.set('2026-03-02T10:00:00Z');
  const id = await steps.scheduled(requester, manager, rfc({ testResults: 'staging: smoke tests green', window: { start: `${day}T20:00:00Z`, end: `${day}T23:00:00Z` } }));
  t.clock.set(`${day}T20:05:00Z`);
  await steps.act(implementer, id, 'start').expect(200);
  t.clock.set(`${day}T20:40:00Z`);
  await steps.act(implementer, id, 'complete', { outcome: 'successful' }).expect(200);
  const [row] = await t.orm.em.fork().getConnection().execute<{ recipient: string; body: string; personal: boolean }[]>("select recipient, body, personal from notification where kind = 'change.validation_request' and body like ? order by id desc limit 1", [`%${id}%`]);
  return { id, row: row!, link: /\/changes\/validations\/\S+/.exec(row!.body)![0] };
}

describe('client validation after a change (IMP-03)', () => {
  it("asks the client's approver by a personal link, keeps the change open until they answer, and tells the team of a problem", async () => {
    const { id, row, link } = await completed('2026-03-10');
    expect(row).toMatchObject({ recipient: 'james.whitfield@northwind.example', personal: true });

    const early = await steps.act(manager, id, 'close');
    expect(early.status).toBe(409);
    expect(early.body.error.message).toContain('waits for the client');

    const page = await t.http.get(link);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Does everything work for you after the change');
    expect(page.text).not.toMatch(/apt-get|nw-web-01|backout/i);
    const answer = await t.http.post(link).type('form').send({ outcome: 'problem', note: 'Search returns nothing since last night' });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('Thank you: your answer was recorded.');
    // Used: the link shows the answer and takes no second one.
    const again = await t.http.post(link).type('form').send({ outcome: 'works' });
    expect(again.text).toContain('there is a problem');

    const detail = (await t.http.get(`/api/v1/changes/${id}`).set(as(manager))).body;
    expect(detail.clientValidation).toEqual([expect.objectContaining({ client: 'northwind', contact: 'james.whitfield@northwind.example', outcome: 'problem', note: 'Search returns nothing since last night' })]);
    const told = await t.orm.em.fork().getConnection().execute<{ recipient: string }[]>("select recipient from notification where kind = 'change.client_problem' order by recipient");
    expect(told.map((r) => r.recipient)).toEqual(['impl@test.example', 'paul.mensah@precision.example']);
    await steps.act(manager, id, 'close').expect(200);
  });

  it('lets a change close once the link expired unanswered, and refuses tampered links', async () => {
    const { id, link } = await completed('2026-03-12');
    const tampered = link.replace(/\.(\d+)\./, (_match, expires: string) => `.${Number(expires) + 60}.`);
    expect((await t.http.get(tampered)).status).toBe(404);
    expect((await t.http.post('/changes/validations/garbage').type('form').send({ outcome: 'works' })).status).toBe(404);
    t.clock.set('2026-04-01T00:00:00Z');
    expect((await t.http.get(link)).status).toBe(404);
    await steps.act(manager, id, 'close').expect(200);
  });
});
