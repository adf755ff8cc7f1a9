import type { MaintenanceSource, PlannedMaintenance } from '../../src/features/status-page/maintenance-source';
import supertest from 'supertest';
import type { TestApp } from '../support/test-app';

/** A maintenance source standing in for change management (a boundary we do not own yet). */
export class TestMaintenanceSource implements MaintenanceSource {
  readonly planned: (PlannedMaintenance & { clientId: string })[] = [];
  private listeners: ((clientId: string) => void)[] = [];

  async scheduledFor(clientId: string, from: Date, to: Date): Promise<PlannedMaintenance[]> {
    return this.planned.filter((m) => m.clientId === clientId && m.start < to && m.end > from);
  }

  onChanged(listener: (clientId: string) => void): void {
    this.listeners.push(listener);
  }

  plan(maintenance: PlannedMaintenance & { clientId: string }): void {
    this.planned.push(maintenance);
    for (const listener of this.listeners) listener(maintenance.clientId);
  }
}

/** Logs an incident by hand, as the service desk does for a client's phone call. */
export async function createIncident(t: TestApp, token: string, input: { client: string; services: string[]; severity: number; title?: string; cis?: string[] }): Promise<string> {
  const response = await t.http
    .post('/api/v1/incidents')
    .set('Authorization', `Bearer ${token}`)
    .send({ title: input.title ?? 'Checkout fails', client: input.client, services: input.services, cis: input.cis ?? [], severity: input.severity, source: 'phone' })
    .expect(201);
  return response.body.id as string;
}

export async function addNote(t: TestApp, token: string, incidentId: string, text: string, visibility: 'public' | 'internal'): Promise<void> {
  await t.http.post(`/api/v1/incidents/${incidentId}/notes`).set('Authorization', `Bearer ${token}`).send({ text, visibility }).expect(201);
}

export async function transition(t: TestApp, token: string, incidentId: string, to: string, extra: Record<string, string> = {}): Promise<void> {
  await t.http.post(`/api/v1/incidents/${incidentId}/transition`).set('Authorization', `Bearer ${token}`).send({ to, ...extra }).expect(200);
}

/**
 * Sends the subscription form as a visitor's browser does: opens the page (which sets the
 * pre-session cookie and puts its CSRF token in the form), then posts the form with it.
 * Each call is a new visitor unless an agent (a browser with its cookies) is given.
 */
export async function subscribeAsVisitor(t: TestApp, client: string, form: string, agent: supertest.Agent = supertest.agent(t.app.handleRequest), page = client): Promise<supertest.Response> {
  const html = (await agent.get(`/status/${page}`).expect(200)).text;
  // (Without a token in the page the form goes without one, and should be refused.)
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return agent.post(`/status/${client}/subscribe`).type('form').send(`${form}&_csrf=${encodeURIComponent(token)}`);
}
