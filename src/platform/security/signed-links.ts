import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';

export type LinkCheck =
  | { ok: true; subject: string; expiresAt: Date }
  | { ok: false; reason: 'malformed' | 'tampered' | 'expired'; expiresAt?: Date };

const SUBJECT = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Signed, expiring tokens for links in e-mails that act without a login (confirm a
 * restoration, approve a change, confirm a subscription). The token names a subject (the
 * id of the row the link acts on), an expiry and an HMAC-SHA256 over both plus the link's
 * purpose, so a token made for one purpose is worthless for another. One-time use is the
 * caller's job: it records on its row that the link was used.
 *
 * Token: `<subject>.<expiry, unix seconds>.<base64url HMAC>`.
 */
export function createLinkSigner(secret: string, clock: Clock) {
  const mac = (purpose: string, subject: string, expires: string) => createHmac('sha256', secret).update(`${purpose}|${subject}|${expires}`).digest();

  return {
    sign(purpose: string, subject: string, expiresAt: Date): string {
      if (!SUBJECT.test(subject)) throw new Error(`link subject must match ${SUBJECT}: ${subject}`);
      const expires = String(Math.floor(expiresAt.getTime() / 1000));
      return `${subject}.${expires}.${mac(purpose, subject, expires).toString('base64url')}`;
    },

    /** Checks signature first, expiry second: a token whose expiry was edited is "tampered", not "expired". */
    verify(purpose: string, token: string): LinkCheck {
      const parts = token.split('.');
      if (parts.length !== 3) return { ok: false, reason: 'malformed' };
      const [subject, expires, signature] = parts as [string, string, string];
      if (!SUBJECT.test(subject) || !/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return { ok: false, reason: 'malformed' };
      const expected = mac(purpose, subject, expires);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'tampered' };
      const expiresAt = new Date(Number(expires) * 1000);
      if (clock.now().getTime() >= expiresAt.getTime()) return { ok: false, reason: 'expired', expiresAt };
      return { ok: true, subject, expiresAt };
    },
  };
}
export type LinkSigner = ReturnType<typeof createLinkSigner>;
