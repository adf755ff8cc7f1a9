import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { renderMinutes } from '../../src/features/changes/change-cab';
import { as, changeSteps, startChangeTestApp, mediumRisk, rfc } from './change-fixtures';

let t: TestApp;
let steps: ReturnType<typeof changeSteps>;
let requester: string;
let manager: string;
let member: string;
let memberRequester: string;

beforeAll(async () => {
  ({ t, steps, requester, manager } = await startChangeTestApp());
  member = await t.tokenFor(['tier3', 'cab_member'], { email: 'anna.cab@test.example' });
  // A board member who raised one of the changes on the agenda.
  memberRequester = await t.tokenFor(['tier2', 'cab_member'], { email: 'bob.cab@test.example' });
});
afterAll(async () => t?.close());

const meetingAt = { scheduledFor: '2026-03-05T14:00:00+00:00' };

function decide(token: string, meetingId: number, itemId: number, body: Record<string, unknown>) {
  return t.http.post(`/api/v1/cab/meetings/${meetingId}/items/${itemId}/decision`).set(as(token)).send(body);
}

describe('CAB meetings (CHG-09)', () => {
  let later: string;
  let earlier: string;
  let meeting: { id: number; agenda: { id: number; position: number; change: { id: string } }[] };

  it('builds the agenda from pending normal changes of medium/high risk, earliest window first', async () => {
    later = await steps.awaitingApproval(requester, manager, rfc({ title: 'Upgrade nginx', risk: mediumRisk }));
    earlier = await steps.awaitingApproval(memberRequester, manager, rfc({ title: 'Rotate TLS certificates', risk: mediumRisk, window: { start: '2026-03-09T20:00:00Z', end: '2026-03-09T21:00:00Z' } }));
    const lowRisk = await steps.awaitingApproval(requester, manager, rfc({ title: 'Tweak log level' }));
    expect((await t.http.get(`/api/v1/changes/${later}`).set(as(manager))).body.approvals.map((a: { group: string }) => a.group)).toEqual(['change_manager', 'cab']);

    expect((await t.http.post('/api/v1/cab/meetings').set(as(member)).send(meetingAt)).status).toBe(403);
    const invalid = await t.http.post('/api/v1/cab/meetings').set(as(manager)).send({ title: 'x', attendees: ['not-an-email'] });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.map((d: { path: string }) => d.path)).toEqual(['title', 'scheduledFor', 'attendees.0']);

    const res = await t.http.post('/api/v1/cab/meetings').set(as(manager)).send({ ...meetingAt, title: 'Weekly CAB', attendees: ['paul.mensah@precision.example'] });
    expect(res.status).toBe(201);
    meeting = res.body;
    expect(meeting.agenda.map((item) => [item.position, item.change.id])).toEqual([
      [1, earlier],
      [2, later],
    ]);
    expect(meeting.agenda.map((item) => item.change.id)).not.toContain(lowRisk);
  });

  it('records decisions per item by CAB members only, under segregation of duties, through the change approvals', async () => {
    const [first, second] = meeting.agenda;
    const notMember = await decide(requester, meeting.id, first!.id, { decision: 'approve', rationale: 'fine' });
    expect(notMember.status).toBe(403);
    const own = await decide(memberRequester, meeting.id, first!.id, { decision: 'approve', rationale: 'my change is fine' });
    expect(own.status).toBe(403);
    expect(own.body.error.message).toBe('segregation of duties: the requester of a change cannot approve it');
    expect((await decide(member, meeting.id, first!.id, { decision: 'approve' })).body.error.details).toEqual([{ path: 'rationale', message: expect.any(String) }]);
    expect((await decide(member, meeting.id, 999_999, { decision: 'approve', rationale: 'fine by me' })).status).toBe(404);
    expect((await decide(member, 999_999, first!.id, { decision: 'approve', rationale: 'fine by me' })).status).toBe(404);

    const approved = await decide(member, meeting.id, first!.id, { decision: 'approve', rationale: 'certificates expire on the 12th', conditions: 'check OCSP stapling after the rotation' });
    expect(approved.status).toBe(200);
    expect(approved.body.agenda[0]).toMatchObject({ decision: 'approve_with_conditions', decidedBy: 'anna.cab@test.example', rationale: 'certificates expire on the 12th' });
    expect(approved.body.attendees).toEqual(['paul.mensah@precision.example', 'anna.cab@test.example']);
    const change = (await t.http.get(`/api/v1/changes/${earlier}`).set(as(manager))).body;
    // The board approved; the change manager's approval is still owed.
    expect(change.state).toBe('awaiting_approval');
    expect(change.approvals.find((a: { group: string }) => a.group === 'cab')).toMatchObject({ status: 'approved_with_conditions', decidedBy: 'anna.cab@test.example' });
    expect(change.history.at(-1).after.note).toContain(`CAB meeting ${meeting.id} ("Weekly CAB"), item 1`);

    const again = await decide(manager, meeting.id, first!.id, { decision: 'reject', rationale: 'changed my mind' });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('item 1 was already decided: approve with conditions by anna.cab@test.example');

    const rejected = await decide(member, meeting.id, second!.id, { decision: 'reject', rationale: 'no rollback rehearsal for the config change' });
    expect(rejected.body.agenda[1].decision).toBe('reject');
    expect((await t.http.get(`/api/v1/changes/${later}`).set(as(manager))).body.state).toBe('rejected');
  });

  it('exports the minutes as Markdown with attendees, decisions and rationale', async () => {
    const res = await t.http.get(`/api/v1/cab/meetings/${meeting.id}/minutes`).set(as(member));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(res.text).toContain('# CAB minutes: Weekly CAB');
    expect(res.text).toContain('- Attendees: paul.mensah@precision.example, anna.cab@test.example');
    expect(res.text).toContain(`### 1. ${earlier}: Rotate TLS certificates`);
    expect(res.text).toContain('- Decision: approve with conditions by anna.cab@test.example at 2026-03-02T10:00:00.000Z\n- Rationale: certificates expire on the 12th\n- Conditions: check OCSP stapling after the rotation');
    expect(res.text).toContain(`### 2. ${later}: Upgrade nginx`);
    expect(res.text).toContain('- Rationale: no rollback rehearsal for the config change');
    expect((await t.http.get('/api/v1/cab/meetings/999999/minutes').set(as(member))).status).toBe(404);
    expect((await t.http.get(`/api/v1/cab/meetings/${meeting.id}/minutes`).set(as(requester))).status).toBe(403);
  });

  it('a later meeting no longer lists what the board decided', async () => {
    const next = await t.http.post('/api/v1/cab/meetings').set(as(manager)).send({ scheduledFor: '2026-03-12T14:00:00+00:00' });
    expect(next.body.agenda).toEqual([]);
    expect((await t.http.get('/api/v1/cab/meetings').set(as(member))).body.items.map((m: { id: number }) => m.id)).toEqual([next.body.id, meeting.id]);
  });
});

describe('CAB minutes (CHG-09, ACC-02)', () => {
  it('escape Markdown in user text, so a title or rationale cannot forge lines or links', async () => {
    const meetingRow = { id: 7, title: 'CAB # special', scheduledFor: new Date('2026-03-05T14:00:00Z'), createdBy: 'cm@test.example', attendees: [], notes: 'see <b>notes</b>' };
    const change = { number: 2001, title: 'Fix *prod* [now](http://evil.example)', type: 'normal', riskLevel: 'medium', riskScore: 5, clientIds: ['northwind'], ciIds: ['nw-web-01'], windowStart: null, windowEnd: null, requesterEmail: 'req@test.example' };
    const item = { position: 1, change, decision: 'approve', decidedBy: 'anna.cab@test.example', decidedAt: new Date('2026-03-05T14:30:00Z'), rationale: 'ok\n### 2. forged item', conditions: null };
    const minutes = renderMinutes(meetingRow as never, [item as never]);
    expect(minutes).toContain('# CAB minutes: CAB \\# special');
    expect(minutes).toContain('- Notes: see \\<b\\>notes\\</b\\>');
    expect(minutes).toContain('### 1. CHG-2001: Fix \\*prod\\* \\[now\\](http://evil.example)');
    expect(minutes).toContain('- Rationale: ok \\#\\#\\# 2. forged item');
  });
});
