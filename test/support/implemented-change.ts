import { ChangeRequestSchema } from '../../src/features/changes/change-entities';
import type { TestApp } from './test-app';

/**
 * A northwind change as change management records it once implemented. Approval and
 * scheduling are tested with change management; correlation and the bridge read only this.
 */
export async function recordImplementedChange(t: TestApp, fields: { cis: string[]; start: Date | string; end: Date | string | null; riskLevel?: string; outcome?: string | null; backoutPlan?: string; title?: string; alertsDuringWindow?: 'hold' | 'page' }): Promise<string> {
  return t.orm.em.fork().transactional(async (em) => {
    const [{ nextval }] = await em.getConnection().execute<{ nextval: string }[]>("select nextval('change_number_seq')", [], 'all', em.getTransactionContext());
    const start = new Date(fields.start);
    const end = fields.end === null ? null : new Date(fields.end);
    const change = em.create(ChangeRequestSchema, {
      number: Number(nextval),
      title: fields.title ?? 'Tune PostgreSQL memory',
      type: 'normal',
      state: end ? 'completed' : 'in_progress',
      outcome: end ? (fields.outcome ?? 'successful') : null,
      requesterId: 1,
      requesterEmail: 'req@test.example',
      implementers: ['impl@test.example'],
      clientIds: ['northwind'],
      ciIds: fields.cis,
      backoutPlan: fields.backoutPlan ?? 'restore the previous postgresql.conf and restart',
      riskLevel: fields.riskLevel ?? 'high',
      alertsDuringWindow: fields.alertsDuringWindow ?? 'hold',
      windowStart: new Date(start.getTime() - 5 * 60_000),
      windowEnd: new Date(start.getTime() + 3 * 3_600_000),
      actualStart: start,
      actualEnd: end,
      completedAt: end,
      createdAt: start,
      updatedAt: start,
    });
    await em.flush();
    return `CHG-${change.number}`;
  });
}
