import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { as, changeSteps, startChangeTestApp, rfc } from './change-fixtures';

const DEPLOY_TOKEN = 'dev-only-change-events-token-change-me';
let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let manager: string;
let eventCounter = 0;
let scheduledId: string;

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
});
afterAll(async () => t?.close());

function deploy(body: Record<string, unknown>, token = DEPLOY_TOKEN) {
  eventCounter += 1;
  return t.http.post('/api/v1/change-events').set(as(token)).send({ id: `run-${eventCounter}`, summary: 'shop-web 4.12.0', source: 'github-actions:shop/deploy', ci: 'nw-web-01', time: '2026-03-10T20:30:00Z', links: ['https://ci.example/runs/1'], ...body });
}

async function eventRows() {
  return t.orm.em.fork().getConnection().execute<{ external_id: string; unauthorized: boolean; change_id: number | null }[]>('select external_id, unauthorized, change_id from change_event order by id');
}

describe('deploy events from CI/CD (REL-04) and unauthorized changes (REL-02)', () => {
  it('refuses a wrong token (401) and bad input with 400 listing every problem', async () => {
    expect((await deploy({}, 'not-the-deploy-token-at-all')).status).toBe(401);
    // An alert integration's token is not a deploy integration's token.
    expect((await deploy({}, 'dev-only-alertmanager-token-change-me')).status).toBe(401);
    const res = await t.http.post('/api/v1/change-events').set(as(DEPLOY_TOKEN)).send({ summary: '', client: 'globex', service: 'nw-webshop', ci: 'no-such-ci', time: 'yesterday', links: ['not a url'], rfc: 'change 12' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['id', 'summary', 'source', 'time', 'links.0', 'ci', 'client', 'rfc']);
    expect(await eventRows()).toEqual([]);
  });

  it('attaches a deploy naming a scheduled change inside its window, and shows it in the change history', async () => {
    t.clock.set('2026-03-02T10:00:00Z');
    const id = await steps.scheduled(requester, manager);
    scheduledId = id;
    // Deploy events report what already happened: they arrive after the window (2026-03-10 20:00-23:00) and its overrun.
    t.clock.set('2026-03-11T03:00:00Z');
    const res = await deploy({ rfc: id });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ change: id, client: 'northwind', ci: 'nw-web-01', unauthorized: false, unauthorizedReason: null, links: ['https://ci.example/runs/1'] });
    const detail = await t.http.get(`/api/v1/changes/${id}`).set(as(manager));
    expect(detail.body.history.at(-1)).toMatchObject({ action: 'change.deploy_event', actor: { name: 'deploys' }, after: { note: 'deploy: shop-web 4.12.0' } });
    const listed = await t.http.get(`/api/v1/change-events?change=${id}`).set(as(manager));
    expect(listed.body.items.map((e: { eventId: string }) => e.eventId)).toEqual([res.body.eventId]);
  });

  it('records a production deploy without an approved change as unauthorized: listed, counted, reported to the change managers', async () => {
    const draft = await steps.create(requester, rfc());
    const cases = [
      [{}, 'names no approved change (rfc)'],
      [{ rfc: 'CHG-99999' }, 'names CHG-99999, which does not exist'],
      [{ rfc: draft.id }, `names ${draft.id}, which is draft, not approved`],
      [{ rfc: scheduledId, time: '2026-03-11T02:00:00Z' }, 'outside the approved window'],
      [{ rfc: scheduledId, ci: 'nw-pay-api-01' }, 'which does not cover nw-pay-api-01'],
    ] as const;
    for (const [body, reason] of cases) {
      const res = await deploy(body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ unauthorized: true, client: 'northwind' });
      expect(res.body.unauthorizedReason).toContain(reason);
    }
    const listed = await t.http.get('/api/v1/change-events?unauthorized=true&client=northwind').set(as(manager));
    expect(listed.body.total).toBe(cases.length);
    const metrics = await t.scrapeMetrics();
    expect(metrics).toContain(`incidentd_changes_unauthorized{client="northwind"} ${cases.length}`);
    const reports = await steps.outbox('change.unauthorized');
    expect(reports).toHaveLength(cases.length);
    expect(reports[0]).toMatchObject({ recipient: 'paul.mensah@precision.example', subject: 'Unauthorized change on nw-web-01 (northwind): shop-web 4.12.0' });
    expect(reports[0]!.body).toContain('it names no approved change (rfc)');
    // Staff only: a client contact does not see the MSP's deploy log.
    const contact = await t.tokenFor('client_contact', { clientId: 'northwind' });
    expect((await t.http.get('/api/v1/change-events').set(as(contact))).status).toBe(403);
  });

  it('a staging deploy needs no change (rfcRequiredFor: production)', async () => {
    const res = await deploy({ ci: 'nw-web-stg-01' });
    expect(res.body).toMatchObject({ unauthorized: false, change: null, client: 'northwind' });
    const byService = await deploy({ ci: undefined, service: 'nw-webshop' });
    expect(byService.body).toMatchObject({ unauthorized: true, service: 'nw-webshop', ci: null });
  });

  it('is idempotent on the sender\'s event id: retries, even concurrent ones, store one row', async () => {
    const body = { id: 'pipeline-7731', summary: 'payments 2.0.1', source: 'gitlab', ci: 'nw-pay-api-01', time: '2026-03-10T21:00:00Z' };
    const first = await t.http.post('/api/v1/change-events').set(as(DEPLOY_TOKEN)).send(body);
    expect(first.status).toBe(201);
    const retries = await Promise.all([1, 2, 3].map(() => t.http.post('/api/v1/change-events').set(as(DEPLOY_TOKEN)).send(body)));
    expect(retries.map((res) => res.status)).toEqual([200, 200, 200]);
    expect(retries.every((res) => res.body.id === first.body.id)).toBe(true);
    const concurrent = await Promise.all([1, 2, 3, 4].map(() => t.http.post('/api/v1/change-events').set(as(DEPLOY_TOKEN)).send({ ...body, id: 'pipeline-7732' })));
    expect(concurrent.map((res) => res.status).sort()).toEqual([200, 200, 200, 201]);
    expect((await eventRows()).filter((row) => row.external_id.startsWith('pipeline-77'))).toHaveLength(2);
    expect((await steps.outbox('change.unauthorized')).filter((n) => n.body.includes('pipeline-7732'))).toHaveLength(1);
  });

  it('is in the OpenAPI document with its integration authentication', async () => {
    const doc = await t.http.get('/api/v1/openapi.json');
    expect(doc.body.paths['/change-events'].post.summary).toContain('unauthorized change');
    expect(doc.body.paths['/change-events'].get).toBeDefined();
  });
});
