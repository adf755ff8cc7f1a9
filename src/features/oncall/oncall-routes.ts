import { z } from 'zod';
import type { ApiRouter } from '../../platform/http/api-router';
import { STAFF_ROLES, type Role } from '../auth/roles';
import type { OncallService } from './oncall-service';

const SCHEDULERS: readonly Role[] = ['admin', 'incident_manager', 'service_desk', 'tier2', 'tier3'];

export function registerOncallRoutes(api: ApiRouter, oncall: OncallService) {
  api.get('/oncall', { access: { roles: STAFF_ROLES }, summary: 'Who is on call now and next, per rotation' }, async () => ({ rotations: await oncall.summary() }));

  api.post(
    '/oncall/:rotation/overrides',
    {
      access: { roles: SCHEDULERS },
      summary: 'Temporary on-call override (holiday, sick day, swap)',
      body: z.object({ email: z.email(), start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }), reason: z.string().max(500).default('') }),
    },
    async ({ params, body, actor, res }) => {
      const row = await oncall.addOverride(params.rotation!, { email: body.email, start: new Date(body.start), end: new Date(body.end), reason: body.reason }, actor);
      res.status(201);
      return { id: row.id, rotation: row.rotationId, email: row.email, start: row.startsAt.toISOString(), end: row.endsAt.toISOString(), reason: row.reason };
    },
  );

  api.delete('/oncall/:rotation/overrides/:id', { access: { roles: SCHEDULERS }, summary: 'Cancel an override' }, async ({ params, actor }) => {
    await oncall.cancelOverride(params.rotation!, Number(params.id), actor);
  });
}
