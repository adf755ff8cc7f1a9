import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger';
import { startTestApp, type TestApp } from '../support/test-app';

// The request log of the real app, captured line by line.
const lines: string[] = [];
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ logger: createLogger('info', { write: (line: string) => void lines.push(line) }) });
});
afterAll(async () => t?.close());

describe('request log', () => {
  it('redacts the credentials a request carries in its headers: Authorization, Cookie and X-CSRF-Token', async () => {
    const token = await t.tokenFor('service_desk');
    const csrfToken = 'csrf-secret-7d1f0a4b9e2c';
    const sessionCookie = 'incidentd_session=session-secret-51c0ffee';
    const res = await t.http.get('/api/v1/me').set('Authorization', `Bearer ${token}`).set('Cookie', sessionCookie).set('X-CSRF-Token', csrfToken).set('X-Request-Id', 'redaction-probe');
    expect(res.status).toBe(200);

    const entry = lines.map((line) => JSON.parse(line) as { req?: { id?: string; headers?: Record<string, string> } }).find((candidate) => candidate.req?.id === 'redaction-probe');
    expect(entry?.req?.headers).toMatchObject({ authorization: '[redacted]', cookie: '[redacted]', 'x-csrf-token': '[redacted]' });
    const log = lines.join('');
    for (const secret of [token, csrfToken, 'session-secret-51c0ffee']) expect(log).not.toContain(secret);
  });
});
