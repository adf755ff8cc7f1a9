import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/platform/clock';
import { redactUrl, serializeRequest } from '../../src/platform/logger';
import { createLinkSigner } from '../../src/platform/security/signed-links';

describe('signed links', () => {
  const clock = new FakeClock('2026-03-02T10:00:00Z');
  const signer = createLinkSigner('test-secret', clock);
  const expiresAt = new Date('2026-03-09T10:00:00Z');

  it('accepts its own token for the same purpose until it expires', () => {
    const token = signer.sign('restoration', '42', expiresAt);
    expect(signer.verify('restoration', token)).toEqual({ ok: true, subject: '42', expiresAt });
    clock.set(new Date('2026-03-09T10:00:00Z'));
    expect(signer.verify('restoration', token)).toMatchObject({ ok: false, reason: 'expired' });
    clock.set(new Date('2026-03-02T10:00:00Z'));
  });

  it('refuses a token made for another purpose or with another secret', () => {
    const token = signer.sign('restoration', '42', expiresAt);
    expect(signer.verify('change-approval', token)).toEqual({ ok: false, reason: 'tampered' });
    expect(createLinkSigner('other-secret', clock).verify('restoration', token)).toEqual({ ok: false, reason: 'tampered' });
  });

  it('refuses edited subjects, expiries and signatures, and garbage', () => {
    const token = signer.sign('restoration', '42', expiresAt);
    const [subject, expires, signature] = token.split('.') as [string, string, string];
    expect(signer.verify('restoration', `43.${expires}.${signature}`)).toEqual({ ok: false, reason: 'tampered' });
    expect(signer.verify('restoration', `${subject}.${Number(expires) + 86_400}.${signature}`)).toEqual({ ok: false, reason: 'tampered' });
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(signer.verify('restoration', `${subject}.${expires}.${flipped}`)).toEqual({ ok: false, reason: 'tampered' });
    for (const junk of ['', 'abc', 'a.b', 'a.b.c.d', `${subject}.${expires}.short`, `../x.${expires}.${signature}`]) {
      expect(signer.verify('restoration', junk)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('refuses to sign a subject that would not survive the token format', () => {
    expect(() => signer.sign('restoration', 'a.b', expiresAt)).toThrow(/subject/);
  });
});

describe('request logs', () => {
  it('mask link tokens in paths and credentials in query strings', () => {
    expect(redactUrl('/respond/restoration/42.1773000000.abcDEF_-?answer=restored')).toBe('/respond/restoration/[redacted]?answer=restored');
    expect(redactUrl('/changes/approvals/17-abc.1773000000.abcDEF_-')).toBe('/changes/approvals/[redacted]');
    expect(redactUrl('/changes/approvals/17-abc.1773000000.abcDEF_-?x=1')).toBe('/changes/approvals/[redacted]?x=1');
    expect(redactUrl('/changes/validations/7.1773000000.abc')).toBe('/changes/validations/[redacted]');
    expect(redactUrl('/api/v1/changes/calendar.ics?client=acme&token=s3cret&x=1')).toBe('/api/v1/changes/calendar.ics?client=acme&token=[redacted]&x=1');
    expect(serializeRequest({ url: '/respond/change-approval/abc', query: { token: 's3cret', client: 'acme' }, params: { token: 'abc' } })).toEqual({
      url: '/respond/change-approval/[redacted]',
      query: { token: '[redacted]', client: 'acme' },
      params: { token: '[redacted]' },
    });
  });
});
