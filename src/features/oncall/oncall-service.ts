import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { NotFoundError, ValidationError } from '../../platform/errors';
import { requirePlausibleInstants } from '../../platform/plausible-time';
import type { Actor, AuditService } from '../audit/audit-service';
import { OncallOverrideSchema } from './oncall-entities';
import { onCallAt, shiftsBetween, upcomingShifts, type Override, type Rotation, type Shift } from './rotation';

export type OncallService = ReturnType<typeof createOncallService>;

/** On-call rotations from the configuration, with temporary overrides kept in the database. */
export function createOncallService(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; audit: AuditService }) {
  function rotation(id: string): Rotation {
    const found = deps.configStore.current.oncall.rotations.find((candidate) => candidate.id === id);
    if (!found) throw new NotFoundError(`no on-call rotation "${id}"`);
    return found;
  }

  /** Active overrides of a rotation; with `during`, only those that can matter in that range. */
  async function overrides(em: EntityManager, rotationId: string, during?: { from: Date; to: Date }): Promise<Override[]> {
    // An override that ended before the scheduled shift covering `from` began cannot change who
    // is on call in the range (no shift lasts longer than 8 days: a weekly one across a DST
    // change is 169 h); at most where the first shift, begun before `from`, is shown to begin.
    const range = during ? { endsAt: { $gt: new Date(during.from.getTime() - 8 * 86_400_000) }, startsAt: { $lt: during.to } } : {};
    const rows = await em.find(OncallOverrideSchema, { rotationId, cancelledAt: null, ...range }, { orderBy: { startsAt: 'asc' } });
    return rows.map((row) => ({ email: row.email, start: row.startsAt, end: row.endsAt }));
  }

  const presentShift = (shift: Shift) => ({ email: shift.email, start: shift.start.toISOString(), end: shift.end.toISOString(), override: shift.override });

  return {
    /** Who is on call in a rotation at `at` (overrides applied). */
    async onCall(em: EntityManager, rotationId: string, at: Date): Promise<string> {
      return onCallAt(rotation(rotationId), await overrides(em, rotationId), at).email;
    },

    /** GET /api/v1/oncall: now and next, per rotation. */
    async summary() {
      const em = deps.orm.em.fork();
      const now = deps.clock.now();
      return Promise.all(
        deps.configStore.current.oncall.rotations.map(async (config) => {
          const active = await overrides(em, config.id);
          return {
            id: config.id,
            name: config.name ?? config.id,
            timezone: config.timezone,
            now: presentShift(onCallAt(config, active, now)),
            next: upcomingShifts(config, active, now, 3).map(presentShift),
          };
        }),
      );
    },

    /** Each rotation (or the one named) with its shifts overlapping [from, to), overrides applied: calendar feeds. */
    async shiftsBetween(em: EntityManager, from: Date, to: Date, rotationId?: string): Promise<{ rotation: Rotation; shifts: Shift[] }[]> {
      const rotations = rotationId ? [rotation(rotationId)] : deps.configStore.current.oncall.rotations;
      return Promise.all(rotations.map(async (config) => ({ rotation: config, shifts: shiftsBetween(config, await overrides(em, config.id, { from, to }), from, to) })));
    },

    async addOverride(rotationId: string, input: { email: string; start: Date; end: Date; reason: string }, actor: Actor) {
      rotation(rotationId);
      if (input.end <= input.start) throw new ValidationError('invalid override', [{ path: 'end', message: 'must be after start' }]);
      requirePlausibleInstants(deps.clock.now(), 'planned', { start: input.start, end: input.end });
      const em = deps.orm.em.fork();
      return em.transactional(async (tx) => {
        const row = tx.create(OncallOverrideSchema, { rotationId, email: input.email.toLowerCase(), startsAt: input.start, endsAt: input.end, reason: input.reason, createdBy: actor.name, createdAt: deps.clock.now(), cancelledAt: null });
        await tx.flush();
        deps.audit.record(tx, { actor, action: 'oncall.override_added', entityType: 'oncall_override', entityId: row.id, after: { rotationId, email: row.email, start: input.start.toISOString(), end: input.end.toISOString(), reason: input.reason } });
        return row;
      });
    },

    async cancelOverride(rotationId: string, id: number, actor: Actor): Promise<void> {
      await deps.orm.em.fork().transactional(async (tx) => {
        const row = await tx.findOne(OncallOverrideSchema, { id, rotationId, cancelledAt: null });
        if (!row) throw new NotFoundError(`no active override ${id} in rotation "${rotationId}"`);
        row.cancelledAt = deps.clock.now();
        deps.audit.record(tx, { actor, action: 'oncall.override_cancelled', entityType: 'oncall_override', entityId: row.id, before: { email: row.email }, after: { cancelled: true } });
      });
    },
  };
}
