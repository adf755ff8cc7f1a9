import { createHash, randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../../platform/clock';
import type { LinkSigner } from '../../platform/security/signed-links';
import { LoginThrottleSchema } from './login-throttle-entity';

/**
 * Sign-in throttling that slows password guessing without letting an attacker lock people out.
 *
 * Three counters of failed sign-ins, each in a fixed window (`windowMs`, 15 minutes from the
 * first failure), kept in PostgreSQL so every replica and every restart sees the same counts:
 *
 * - per account (the e-mail typed), wherever the guesses come from: a botnet guessing one
 *   person's password gets `perAccount` tries per window;
 * - per client address (an IPv6 client counts by its /64), whatever account is tried: one
 *   machine spraying a common password over many accounts gets `perAddress` tries;
 * - per known browser: a browser that signed in to an account before holds a signed cookie
 *   for it (`incidentd_device`, 90 days, renewed at each sign-in) with a budget of its own.
 *
 * An attempt from a known browser is judged only by that browser's own budget. So when an
 * attacker exhausts an account's or an address's budget, the owner of the account, and
 * everyone behind the same NAT address, still signs in from the browser they used before;
 * only browsers that never signed in to that account wait for the window to end. Nobody's
 * correct password is refused because of someone else's guesses from a known browser.
 *
 * Counting is pessimistic: an attempt is counted before its password is checked (so a burst
 * of parallel guesses cannot all slip in under the limit) and taken back when the password
 * was right or the attempt was refused, so the counters hold failed checks only.
 */
export interface LoginThrottleLimits {
  windowMs: number;
  perAccount: number;
  perAddress: number;
  perDevice: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleLimits = { windowMs: 15 * 60_000, perAccount: 10, perAddress: 50, perDevice: 10 };

export const DEVICE_COOKIE = 'incidentd_device';
export const DEVICE_COOKIE_TTL_MS = 90 * 86_400_000;

type Kind = 'account' | 'address' | 'device';

export type LoginAttempt =
  | { allowed: true; knownBrowser: boolean; succeeded(): Promise<void> }
  | { allowed: false; reason: 'account' | 'address'; retryAfterSeconds: number };

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

export function createLoginThrottle(deps: { orm: MikroORM; clock: Clock; signer: LinkSigner; limits?: Partial<LoginThrottleLimits> }) {
  const limits = { ...DEFAULT_LOGIN_THROTTLE, ...deps.limits };
  const limitOf: Record<Kind, number> = { account: limits.perAccount, address: limits.perAddress, device: limits.perDevice };
  // The cookie is signed for one account: the account is part of what the signature covers.
  const devicePurpose = (email: string) => `login-device|${normalizeEmail(email)}`;

  /** Adds one to each counter (a new window for a counter whose window is over) and returns them. */
  async function count(keys: { kind: Kind; keyHash: string }[], now: Date) {
    const windowOver = new Date(now.getTime() - limits.windowMs);
    const rows = await deps.orm.em.getConnection().execute<{ key_hash: string; kind: Kind; failures: number; window_start: Date }[]>(
      `insert into login_throttle (key_hash, kind, failures, window_start)
       values ${keys.map(() => '(?, ?, 1, ?)').join(', ')}
       on conflict (key_hash) do update set
         failures = case when login_throttle.window_start <= ? then 1 else login_throttle.failures + 1 end,
         window_start = case when login_throttle.window_start <= ? then excluded.window_start else login_throttle.window_start end
       returning key_hash, kind, failures, window_start`,
      [...keys.flatMap((key) => [key.keyHash, key.kind, now]), windowOver, windowOver],
    );
    return rows;
  }

  /** Takes back one count, in the window it was made in. */
  async function uncount(rows: { key_hash: string; window_start: Date }[]) {
    for (const row of rows) {
      await deps.orm.em.getConnection().execute('update login_throttle set failures = greatest(failures - 1, 0) where key_hash = ? and window_start = ?', [row.key_hash, row.window_start]);
    }
  }

  return {
    limits,

    /**
     * Counts a sign-in attempt and says whether its password may be checked. The caller
     * calls `succeeded()` when the password was right; a wrong one stays counted.
     */
    async attempt(input: { email: string; address: string; deviceCookie?: string }): Promise<LoginAttempt> {
      const now = deps.clock.now();
      const device = input.deviceCookie ? deps.signer.verify(devicePurpose(input.email), input.deviceCookie) : null;
      const keys: { kind: Kind; keyHash: string }[] = [
        { kind: 'account', keyHash: keyHash('account', normalizeEmail(input.email)) },
        { kind: 'address', keyHash: keyHash('address', addressKey(input.address)) },
        ...(device?.ok ? [{ kind: 'device' as const, keyHash: keyHash('device', device.subject) }] : []),
      ];
      const rows = await count(keys, now);
      const over = (kind: Kind) => rows.find((row) => row.kind === kind && row.failures > limitOf[kind]);
      const knownBrowser = device?.ok === true && !over('device');
      const blocking = knownBrowser ? undefined : (over('account') ?? over('address'));
      if (blocking) {
        await uncount(rows);
        const retryAfterMs = new Date(blocking.window_start).getTime() + limits.windowMs - now.getTime();
        return { allowed: false, reason: blocking.kind as 'account' | 'address', retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
      }
      return { allowed: true, knownBrowser, succeeded: () => uncount(rows) };
    },

    /** The cookie that makes this browser a known one for `email`. */
    deviceCookie(email: string): string {
      return deps.signer.sign(devicePurpose(email), randomBytes(16).toString('base64url'), new Date(deps.clock.now().getTime() + DEVICE_COOKIE_TTL_MS));
    },

    /** Drops counters whose window is over (any replica may run it; it is idempotent). */
    async purgeExpired(): Promise<number> {
      return deps.orm.em.fork().nativeDelete(LoginThrottleSchema, { windowStart: { $lte: new Date(deps.clock.now().getTime() - limits.windowMs) } });
    },
  };
}

function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function keyHash(kind: Kind, value: string): string {
  return createHash('sha256').update(`${kind}:${value}`).digest('hex');
}

/**
 * The address a client is counted by: IPv4 as it is (also when written as an IPv4-mapped
 * IPv6 address), IPv6 by its /64, since one subscriber usually holds a whole /64.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const bare = ip.split('%')[0]!;
  const [head = '', tail = ''] = bare.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = bare.includes('::') && tail ? tail.split(':') : [];
  const groups = bare.includes('::') ? [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups] : headGroups;
  return `${groups
    .slice(0, 4)
    .map((group) => (parseInt(group, 16) || 0).toString(16))
    .join(':')}::/64`;
}
