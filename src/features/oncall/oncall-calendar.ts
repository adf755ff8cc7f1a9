import { randomBytes } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { parseDuration } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { NotFoundError } from '../../platform/errors';
import type { Actor, AuditService } from '../audit/audit-service';
import { hasAnyRole, type Principal } from '../auth/principal';
import { STAFF_ROLES } from '../auth/roles';
import { hashToken } from '../users/credentials';
import { renderShiftCalendar, type ShiftEvent } from './oncall-calendar-ics';
import { OncallCalendarFeedSchema } from './oncall-entities';
import type { OncallService } from './oncall-service';
import { scheduledShiftAt, type Rotation, type Shift } from './rotation';

/** Recognisable by secret scanners, like API tokens (idt_). */
const FEED_TOKEN_PREFIX = 'idc_';

/** What the calendar feeds need to know about people; the users feature provides it. */
export interface FeedPeople {
  /** The user as they are now; null when unknown or disabled (their feed then answers 404). */
  principalFor(em: EntityManager, userId: number): Promise<Principal | null>;
  /** Display names by lower-case e-mail, for the shifts of a rotation. */
  names(): Promise<Map<string, string>>;
}

export interface FeedAddresses {
  createdAt: string;
  /** The person's own shifts in every rotation. */
  shifts: string;
  /** Every shift of each rotation. */
  rotations: { id: string; name: string; url: string }[];
}

export type OncallCalendar = ReturnType<typeof createOncallCalendar>;

/**
 * On-call shifts as iCalendar feeds (issue 21 §4): each person's shifts, and each
 * rotation's, with overrides, in the rotation's zone. Calendar applications cannot sign in,
 * so the address carries a secret token of its own, one per person: only its hash is
 * stored, the person (or an admin) makes a new one to end a leaked address, and a feed
 * works only while its owner is an enabled member of staff.
 */
export function createOncallCalendar(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; audit: AuditService; oncall: OncallService; people: FeedPeople }) {
  const { orm, clock, configStore, audit } = deps;

  async function staffUser(em: EntityManager, userId: number): Promise<Principal> {
    const principal = await deps.people.principalFor(em, userId);
    if (!principal || !hasAnyRole(principal, STAFF_ROLES)) throw new NotFoundError(`no member of staff with id ${userId}`);
    return principal;
  }

  function addresses(token: string, createdAt: Date): FeedAddresses {
    const { server, oncall } = configStore.current;
    const base = `${server.publicUrl}/api/v1/oncall/calendar`;
    const query = `?token=${token}`;
    return {
      createdAt: createdAt.toISOString(),
      shifts: `${base}/shifts.ics${query}`,
      rotations: oncall.rotations.map((rotation) => ({ id: rotation.id, name: rotation.name ?? rotation.id, url: `${base}/rotations/${encodeURIComponent(rotation.id)}.ics${query}` })),
    };
  }

  /** The feed's owner, or 404 for any doubt (unknown token, disabled, no longer staff). */
  async function owner(em: EntityManager, token: string): Promise<Principal> {
    const row = token.startsWith(FEED_TOKEN_PREFIX) ? await em.findOne(OncallCalendarFeedSchema, { tokenHash: hashToken(token) }) : null;
    const principal = row ? await deps.people.principalFor(em, row.user.id) : null;
    if (!principal || !hasAnyRole(principal, STAFF_ROLES)) throw new NotFoundError('no such calendar');
    return principal;
  }

  /** The feeds' time range: `oncall.calendarFeeds.lookBack` before now to `lookAhead` after. */
  function range() {
    const { lookBack, lookAhead } = configStore.current.oncall.calendarFeeds;
    const now = clock.now();
    return { now, from: new Date(now.getTime() - (parseDuration(lookBack) ?? 0)), to: new Date(now.getTime() + (parseDuration(lookAhead) ?? 0)) };
  }

  function event(rotation: Rotation, shift: Shift, summary: string, names: Map<string, string>): ShiftEvent {
    const name = (email: string) => names.get(email.toLowerCase()) ?? email;
    const lines = [`Rotation: ${rotation.name ?? rotation.id}`, `On call: ${name(shift.email)} <${shift.email}>`];
    if (shift.override) {
      // Who the override replaces: whoever the schedule has at its start, if someone else.
      const scheduled = scheduledShiftAt(rotation, shift.start).email;
      lines.push(scheduled === shift.email ? 'Override' : `Override: replaces ${name(scheduled)}`);
    }
    return {
      uid: `oncall-${rotation.id}-${shift.start.toISOString().replace(/[-:.]/g, '')}@incidentd`,
      start: shift.start,
      end: shift.end,
      timezone: rotation.timezone,
      summary: `${summary}${shift.override ? ' (override)' : ''}`,
      description: lines.join('\n'),
    };
  }

  return {
    /** Whether the user has a feed address, and since when (the address itself is not kept). */
    async status(userId: number) {
      const row = await orm.em.fork().findOne(OncallCalendarFeedSchema, { user: userId });
      return row ? { active: true, createdAt: row.createdAt.toISOString(), createdBy: row.createdBy } : { active: false };
    },

    /** A new secret address for the user's feeds, shown once; the previous one stops working. */
    async rotate(userId: number, actor: Actor): Promise<FeedAddresses> {
      const token = FEED_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const now = clock.now();
      await orm.em.fork().transactional(async (em) => {
        await staffUser(em, userId);
        const replaced = await em.nativeDelete(OncallCalendarFeedSchema, { user: userId });
        em.create(OncallCalendarFeedSchema, { user: userId, tokenHash: hashToken(token), createdAt: now, createdBy: actor.name });
        audit.record(em, { actor, action: 'oncall.calendar_feed_rotated', entityType: 'user', entityId: userId, after: { replacedPrevious: replaced > 0 } });
      });
      return addresses(token, now);
    },

    /** Ends the user's feed address (404 when there is none). */
    async revoke(userId: number, actor: Actor): Promise<void> {
      await orm.em.fork().transactional(async (em) => {
        if ((await em.nativeDelete(OncallCalendarFeedSchema, { user: userId })) === 0) throw new NotFoundError(`user ${userId} has no calendar feed`);
        audit.record(em, { actor, action: 'oncall.calendar_feed_revoked', entityType: 'user', entityId: userId });
      });
    },

    /** The token owner's own shifts in every rotation. */
    async personalFeed(token: string): Promise<string> {
      const em = orm.em.fork();
      const person = await owner(em, token);
      const { now, from, to } = range();
      const [rotations, names] = await Promise.all([deps.oncall.shiftsBetween(em, from, to), deps.people.names()]);
      const email = person.email.toLowerCase();
      const events = rotations.flatMap(({ rotation, shifts }) =>
        shifts.filter((shift) => shift.email.toLowerCase() === email).map((shift) => event(rotation, shift, `On call: ${rotation.name ?? rotation.id}`, names)),
      );
      events.sort((a, b) => a.start.getTime() - b.start.getTime());
      return renderShiftCalendar({ name: `On call: ${person.name}`, now }, events);
    },

    /** Every shift of one rotation (any member of staff may see who is on call). */
    async rotationFeed(token: string, rotationId: string): Promise<string> {
      const em = orm.em.fork();
      await owner(em, token);
      const { now, from, to } = range();
      const [[entry], names] = await Promise.all([deps.oncall.shiftsBetween(em, from, to, rotationId), deps.people.names()]);
      const { rotation, shifts } = entry!;
      const events = shifts.map((shift) => event(rotation, shift, `On call: ${names.get(shift.email.toLowerCase()) ?? shift.email}`, names));
      return renderShiftCalendar({ name: `On call: ${rotation.name ?? rotation.id}`, timezone: rotation.timezone, now }, events);
    },
  };
}
