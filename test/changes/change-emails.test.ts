import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smtpConfigFor, startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp-sink';
import type { TestApp } from '../support/test-app';
import { changeSteps, mediumRisk, rfc, startChangeTestApp } from './change-fixtures';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let manager: string;
let sink: SmtpSink;

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
  sink = await startSmtpSink();
  t.configStore.replace({ ...t.configStore.current, smtp: smtpConfigFor(sink) });
});
afterAll(async () => {
  await t?.app.services.notificationSender.stop();
  await sink?.stop();
  await t?.close();
});

const deliver = () => t.app.services.notificationSender.runDue();
const about = (id: string, to: string) => sink.to(to).filter((mail) => mail.subject.includes(id));

/** Nothing the MSP keeps to itself: people, CIs, plans, risk scoring. */
function expectNoInternals(mail: ReceivedMail) {
  for (const part of [mail.subject, mail.text, mail.html]) {
    for (const internal of ['impl@test.example', 'req@test.example', 'nw-web-01', 'ah-fs-01', 'apt-get', 'Install KB', 'Uninstall KB', 'score', 'Risk', 'paul.mensah']) expect(part).not.toContain(internal);
  }
}

describe('change e-mails through templates (COM-01..03)', () => {
  it('tells the client of a scheduled change in a branded e-mail with the window in its time zone', async () => {
    const id = await steps.scheduled(requester, manager, rfc({ title: 'Upgrade the web servers' }));
    await deliver();
    const [mail] = about(id, 'it-ops@northwind.example');
    expect(mail).toBeDefined();
    expect(mail!.subject).toBe(`[Northwind Traders] Planned change ${id}: Upgrade the web servers`);
    expect(mail!.text).toContain('When:       Tue 10 Mar 2026, 20:00 GMT - Tue 10 Mar 2026, 23:00 GMT');
    expect(mail!.text).toContain('Services:   Web shop');
    expect(mail!.html).toContain('Web shop unavailable for up to 5 minutes');
    expect(mail!.html).toContain('Precision Computer Service Desk - on behalf of Northwind Traders IT');
    expectNoInternals(mail!);
  });

  it('sends client approvers their own signed link, which opens the change', async () => {
    const id = await steps.awaitingApproval(requester, manager, rfc({ title: 'Patch the file server', clients: ['acme-health'], services: [], cis: ['ah-fs-01'], implementationPlan: 'Install KB5034441', backoutPlan: 'Uninstall KB', window: { start: '2026-03-22T14:00:00Z', end: '2026-03-22T16:00:00Z' } }));
    await deliver();
    const mails = ['kevin.obrien@acmehealth.example', 'maria.lopez@acmehealth.example'].map((to) => about(id, to)[0]!);
    expect(mails.map((mail) => mail.subject)).toEqual([`[Acme Health Clinics] Your approval is requested for ${id}: Patch the file server`, `[Acme Health Clinics] Your approval is requested for ${id}: Patch the file server`]);
    const links = mails.map((mail) => /http:\/\/[^/\s]+(\/changes\/approvals\/[\w.-]+)/.exec(mail.text)![1]!);
    expect(links[0]).not.toBe(links[1]);
    expect(mails[0]!.html).toContain(`href="${mails[0]!.text.match(/http:\/\/\S+\/changes\/approvals\/\S+/)![0]}"`);
    expect(mails[0]!.text).toContain('When:       Sun 22 Mar 2026, 10:00 EDT - Sun 22 Mar 2026, 12:00 EDT');
    expectNoInternals(mails[0]!);
    const page = await t.http.get(links[0]!);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Patch the file server');
  });

  it('asks staff approvers in an e-mail of its own: what is asked, the window, the risk and a link to the change (CHG-06)', async () => {
    const id = await steps.awaitingApproval(requester, manager, rfc({ title: 'Tune the shop web server', cis: ['nw-web-02'], services: [], window: { start: '2026-03-12T20:00:00Z', end: '2026-03-12T22:00:00Z' } }));
    await deliver();
    const [mail] = about(id, 'paul.mensah@precision.example');
    expect(mail!.subject).toBe(`${id}: approval requested (change manager): Tune the shop web server`);
    expect(mail!.text).toContain('Your decision is requested as change manager.');
    expect(mail!.text).toContain('When:       Thu 12 Mar 2026, 20:00 GMT - Thu 12 Mar 2026, 22:00 GMT');
    expect(mail!.text).toContain('Risk:       low (score');
    expect(mail!.text).toContain(`/api/v1/changes/${id}`);
    expect(mail!.html).toMatch(new RegExp(`<a href="http://[^"]+/api/v1/changes/${id}"`));
    expect(mail!.html).toContain('<strong>low</strong>');
    // Not the generic staff page (plain text in a monospace block).
    expect(mail!.html).not.toContain('ui-monospace');
  });

  it('tells clients of an emergency change once the emergency CAB approves it (COM-01)', async () => {
    const { id } = await steps.create(requester, rfc({ type: 'emergency', title: 'Block the exploited TLS cipher' }));
    await steps.act(requester, id, 'submit').expect(200);
    await deliver();
    expect(about(id, 'it-ops@northwind.example')).toEqual([]);
    await steps.act(manager, id, 'approve', { rationale: 'active exploitation in the wild' }).expect(200);
    await deliver();
    const [mail] = about(id, 'it-ops@northwind.example');
    expect(mail!.subject).toBe(`[Northwind Traders] Emergency change ${id}: Block the exploited TLS cipher`);
    expect(mail!.text).toContain('urgent change');
    expect(mail!.html).toContain('Emergency</span>');
    expectNoInternals(mail!);
  });

  it('tells the CAB team of a significant change before it is implemented (COM-03), but not of a routine one', async () => {
    const significant = await steps.awaitingApproval(requester, manager, rfc({ title: 'Re-index the shop database', risk: mediumRisk, window: { start: '2026-03-11T20:00:00Z', end: '2026-03-11T21:00:00Z' } }));
    const member = await t.tokenFor('cab_member', { email: 'ivan.petrov@precision.example' });
    await steps.act(manager, significant, 'approve', { rationale: 'fine', group: 'change_manager' }).expect(200);
    await steps.act(member, significant, 'approve', { rationale: 'board agrees' }).expect(200);
    const scheduled = await steps.act(manager, significant, 'schedule');
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    await deliver();
    const [mail] = about(significant, 'cab@precision.example');
    expect(mail!.subject).toBe(`${significant}: significant change scheduled: Re-index the shop database`);
    expect(mail!.text).toContain('A normal change of medium risk is scheduled for 2026-03-11T20:00:00.000Z');
    expect(sink.to('cab@precision.example').filter((m) => m.subject.includes('Upgrade the web servers'))).toEqual([]);
  });
});
