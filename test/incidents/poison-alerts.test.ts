import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerPayload, AM_TOKEN } from '../support/alert-payloads';
import { startTestApp, type TestApp } from '../support/test-app';

// An alert the processor cannot process (issue 14 §1) must not block the queue or fail
// silently forever: after 5 attempts it is parked, counted, listed for admins, and a triage
// incident says why (and pages). The failure here is real: PostgreSQL refuses the incident
// (a trigger standing in for any bug or data problem the processor may meet).
let t: TestApp;
let admin: string;
let staff: string;

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.tokenFor('admin');
  staff = await t.tokenFor('service_desk');
  await t.app.services.alertProcessor.stop();
  await sql(`create function refuse_poison_pill() returns trigger language plpgsql as $$
               begin raise exception 'refusing the PoisonPill incident'; end $$`);
  await sql(`create trigger refuse_poison_pill before insert on incident for each row
               when (new.dedup_key like 'alertmanager|%PoisonPill%') execute function refuse_poison_pill()`);
});
afterAll(async () => t?.close());

const sql = (text: string, params: unknown[] = []) => t.orm.em.fork().getConnection().execute(text, params);
const post = (body: unknown) => t.http.post('/api/v1/alerts/alertmanager').set('Authorization', `Bearer ${AM_TOKEN}`).send(body as object);
const alertRow = async (alertname: string) =>
  (await sql("select id, needs_processing, attempts, parked_at, last_error, parked_incident_id, incident_id from alert where labels->>'alertname' = ?", [alertname]))[0] as {
    id: string;
    needs_processing: boolean;
    attempts: number;
    parked_at: Date | null;
    last_error: string | null;
    parked_incident_id: number | null;
    incident_id: number | null;
  };
const metricsText = () => t.scrapeMetrics();

describe('an alert the processor keeps failing on', () => {
  let parkedId: string;
  let triageNumber: number;

  it('does not hold back the alerts after it', async () => {
    await post(alertmanagerPayload('{}:{alertname="PoisonPill"}', [{ labels: { alertname: 'PoisonPill', client: 'globex', ci: 'gx-trade-app-01', severity: 'critical' } }]));
    await post(alertmanagerPayload('{}:{alertname="Healthy"}', [{ labels: { alertname: 'Healthy', client: 'globex', severity: 'warning' } }]));
    await t.app.services.alertProcessor.drain();
    expect((await alertRow('Healthy')).incident_id).not.toBeNull();
    const poison = await alertRow('PoisonPill');
    expect(poison).toMatchObject({ needs_processing: true, attempts: 1, parked_at: null });
    expect(poison.last_error).toContain('refusing the PoisonPill incident');
  });

  it('is tried again later, then parked after 5 attempts with a triage incident that says why and pages', async () => {
    for (let attempt = 2; attempt <= 5; attempt += 1) {
      // Not before its retry time (2, 4, 8, 16 s)...
      await t.app.services.alertProcessor.drain();
      expect((await alertRow('PoisonPill')).attempts).toBe(attempt - 1);
      t.clock.advance(20_000);
      await t.app.services.alertProcessor.drain();
      expect((await alertRow('PoisonPill')).attempts, `attempt ${attempt}`).toBe(attempt);
    }
    const parked = await alertRow('PoisonPill');
    expect(parked).toMatchObject({ needs_processing: false, incident_id: null });
    expect(parked.parked_at).not.toBeNull();
    expect(parked.parked_incident_id).not.toBeNull();
    parkedId = String(parked.id);

    const [triage] = (await sql('select number, client_id, title, description, severity, state from incident where id = ?', [parked.parked_incident_id])) as {
      number: number;
      client_id: string | null;
      title: string;
      description: string;
      severity: number;
      state: string;
    }[];
    triageNumber = triage!.number;
    expect(triage).toMatchObject({ client_id: null, title: 'Alert processing failed: PoisonPill', severity: 1, state: 'new' });
    expect(triage!.description).toContain('processing failed 5 times');
    expect(triage!.description).toContain('refusing the PoisonPill incident');
    expect(triage!.description).toContain('routed to client globex');
    // It pages like any Sev1: its escalation has started.
    expect(await sql("select kind from timer where incident_id = ? and kind = 'escalation.step' and status = 'pending'", [parked.parked_incident_id])).toHaveLength(1);
    // And it stays parked: nothing more is tried.
    t.clock.advance(3_600_000);
    await t.app.services.alertProcessor.drain();
    expect((await alertRow('PoisonPill')).attempts).toBe(5);

    const metrics = await metricsText();
    expect(metrics).toMatch(/incidentd_poison_alerts_total\{integration="alertmanager"\} 1/);
    expect(metrics).toMatch(/incidentd_poison_alerts_parked 1/);
  });

  it('is listed for admins only, with the error and its triage incident, in the OpenAPI document too', async () => {
    const list = await t.http.get('/api/v1/poison-alerts').set('Authorization', `Bearer ${admin}`);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([
      expect.objectContaining({ id: parkedId, integration: 'alertmanager', groupKey: '{}:{alertname="PoisonPill"}', attempts: 5, triageIncident: `INC-${triageNumber}`, error: expect.stringContaining('refusing the PoisonPill incident') }),
    ]);
    expect((await t.http.get('/api/v1/poison-alerts').set('Authorization', `Bearer ${staff}`)).status).toBe(403);
    expect((await t.http.get('/api/v1/poison-alerts')).status).toBe(401);
    expect((await t.http.post(`/api/v1/poison-alerts/${parkedId}/retry`).set('Authorization', `Bearer ${staff}`)).status).toBe(403);
    const openApi = (await t.http.get('/api/v1/openapi.json')).body;
    expect(Object.keys(openApi.paths)).toEqual(expect.arrayContaining(['/poison-alerts', '/poison-alerts/{id}/retry']));
  });

  it('goes through again when an admin retries it once the cause is fixed', async () => {
    await sql('drop trigger refuse_poison_pill on incident');
    const retried = await t.http.post(`/api/v1/poison-alerts/${parkedId}/retry`).set('Authorization', `Bearer ${admin}`);
    expect(retried.status).toBe(200);
    await t.app.services.alertProcessor.drain();
    const row = await alertRow('PoisonPill');
    expect(row).toMatchObject({ needs_processing: false, parked_at: null, attempts: 0 });
    expect(row.incident_id).not.toBeNull();
    expect((await t.http.get('/api/v1/poison-alerts').set('Authorization', `Bearer ${admin}`)).body.items).toEqual([]);
    expect(await sql("select 1 from audit_event where action = 'alert.retried' and entity_id = ?", [parkedId])).toHaveLength(1);
    expect((await t.http.post('/api/v1/poison-alerts/999999/retry').set('Authorization', `Bearer ${admin}`)).status).toBe(404);
  });
});

describe('an alert whose processor died while working on it, again and again', () => {
  it('is parked at its next claim instead of being tried (and crashing) once more', async () => {
    await post(alertmanagerPayload('{}:{alertname="CrashLoop"}', [{ labels: { alertname: 'CrashLoop', client: 'globex', severity: 'high' } }]));
    // What five crashed attempts leave behind: the count, and a claim of a processor that is gone.
    await sql("update alert set attempts = 5, claimed_by = 'gone-host:1:dead' where labels->>'alertname' = 'CrashLoop'");
    await t.app.services.alertProcessor.drain();
    const row = await alertRow('CrashLoop');
    expect(row.parked_at).not.toBeNull();
    expect(row.incident_id).toBeNull();
    const [triage] = (await sql('select title, description from incident where id = ?', [row.parked_incident_id])) as { title: string; description: string }[];
    expect(triage!.title).toBe('Alert processing failed: CrashLoop');
    expect(triage!.description).toContain('the processor stopped 5 times while working on these alerts');
  });
});
