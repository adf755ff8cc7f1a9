import { z } from 'zod';
import type { ConfigStore } from '../../config/config-store';
import type { ApiRouter } from '../../platform/http/api-router';
import type { AuditService } from '../audit/audit-service';
import { STAFF_ROLES, type Role } from '../auth/roles';
import { isClientContact } from '../incidents/incident-access';
import { DECISIONS, type ChangeApprovals } from './change-approvals';
import { ChangeApprovalSchema } from './change-entities';
import { presentApproval, presentChange, presentChangeForClient, presentHistory } from './change-presenter';
import { riskAnswersSchema } from './change-risk';
import { CHANGE_STATES, CHANGE_TYPES, formatChangeId, OUTCOMES } from './change-rules';
import type { ChangeCore } from './change-service';
import type { ChangeValidations } from './change-validation';
import type { ChangeWorkflow } from './change-workflow';

const MANAGERS: readonly Role[] = ['change_manager'];
const IMPLEMENTERS: readonly Role[] = ['implementer', 'admin'];
const DECIDERS: readonly Role[] = [...STAFF_ROLES, 'client_contact'];

const instant = z.iso.datetime({ offset: true });
export const windowSchema = z.object({ start: instant, end: instant }).describe('requested window, ISO 8601 with offset');
const expectedVersion = z.number().int().optional().describe('the version you last saw; a stale write is refused with 409');
const text = (max = 20_000) => z.string().max(max);

const changeFields = {
  description: text(),
  justification: text().describe('business need'),
  type: z.enum(CHANGE_TYPES),
  standardChange: z.string().describe('catalog entry (standardChanges[].id); makes it a standard change'),
  vendor: z.string().max(200).nullable().describe('third party carrying out the change (ACC-03)'),
  implementers: z.array(z.string()).max(20).describe('user ids or e-mails of users with the implementer role'),
  clients: z.array(z.string()).max(50),
  services: z.array(z.string()).max(200),
  cis: z.array(z.string()).max(500),
  implementationPlan: text(),
  testPlan: text(),
  testResults: text().describe('results from a non-production environment (IMP-02)'),
  backoutPlan: text(),
  communicationPlan: text(),
  expectedImpact: text(2000).describe('what users will notice; sent to clients'),
  alertsDuringWindow: z.enum(['hold', 'page']).describe('alerts on its CIs while it is in progress: hold (expected: nobody paged, SLA waiting until the window ends; default) or page as usual'),
  window: windowSchema.nullable(),
  risk: riskAnswersSchema.nullable().describe('risk questionnaire; CI criticality, dependencies and history are added from data'),
};
const createBody = z.object({ title: z.string().trim().min(3).max(500), ...changeFields, type: changeFields.type.default('normal') }).partial({ description: true, justification: true, standardChange: true, vendor: true, implementers: true, clients: true, services: true, cis: true, implementationPlan: true, testPlan: true, testResults: true, backoutPlan: true, communicationPlan: true, expectedImpact: true, alertsDuringWindow: true, window: true, risk: true });
const patchBody = z.object({ title: z.string().trim().min(3).max(500), ...changeFields }).partial().extend({ expectedVersion });

const csv = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)));

const listQuery = z.object({
  state: csv(CHANGE_STATES).optional(),
  type: csv(CHANGE_TYPES).optional(),
  client: z.string().optional(),
  ci: z.string().optional(),
  reviewPending: z.enum(['true', 'false']).transform((value) => value === 'true').optional().describe('true: only changes whose post-implementation review is still owed'),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});

const rationale = z.string().trim().min(3).max(5000).describe('why; recorded with the decision');
const decisionBody = z.object({ rationale, conditions: z.string().max(5000).optional().describe('approve with conditions'), group: z.string().optional().describe('which approval, when you may decide for several groups'), expectedVersion });

export function registerChangeRoutes(api: ApiRouter, deps: { core: ChangeCore; workflow: ChangeWorkflow; approvals: ChangeApprovals; audit: AuditService; configStore: ConfigStore; validations: ChangeValidations }) {
  const { core, workflow, approvals } = deps;

  api.post('/changes', { access: { roles: STAFF_ROLES }, summary: 'Raise an RFC as a draft (CHG-01, CHG-03); from the catalog with standardChange', body: createBody }, async ({ body, principal, actor, requestId, res }) => {
    const change = await core.create(body, principal, actor, requestId);
    res.status(201).setHeader('Location', `/api/v1/changes/${formatChangeId(change.number)}`);
    return presentChange(change);
  });

  api.get('/changes', { access: { roles: DECIDERS }, summary: 'List changes, newest first (filters: state, type, client, ci, reviewPending)', query: listQuery }, async ({ principal, query }) => {
    const [items, total] = await core.list({ ...query, limit: query.pageSize, offset: (query.page - 1) * query.pageSize }, principal);
    const services = deps.configStore.current.services;
    return { items: items.map((change) => (isClientContact(principal) ? presentChangeForClient(change, services, principal.clientId ?? '__none__') : presentChange(change))), page: query.page, pageSize: query.pageSize, total };
  });

  api.get('/changes/:id', { access: { roles: DECIDERS }, summary: 'One change with its approvals and audited history' }, async ({ principal, params }) => {
    const { change, em } = await core.get(params.id!, principal);
    if (isClientContact(principal)) return presentChangeForClient(change, deps.configStore.current.services, principal.clientId ?? '__none__');
    const [approvalRows, history, clientValidation] = await Promise.all([
      em.find(ChangeApprovalSchema, { change }, { orderBy: { id: 'asc' } }),
      deps.audit.find(em, { entityType: 'change', entityId: formatChangeId(change.number), limit: 1000 }),
      deps.validations.present(em, change),
    ]);
    return { ...presentChange(change), approvals: approvalRows.map(presentApproval), clientValidation, history: presentHistory(history) };
  });

  api.patch('/changes/:id', { access: { roles: STAFF_ROLES }, summary: 'Edit a draft, or a rejected or deferred RFC before re-submission (requester or change manager); type and standardChange are fixed once submitted; after approval only testResults', body: patchBody }, async ({ body, principal, actor, params, requestId }) => {
    const { expectedVersion: version, ...input } = body;
    return presentChange(await core.update(params.id!, input, principal, actor, { expectedVersion: version, requestId }));
  });

  const plain = z.object({ expectedVersion });
  api.post('/changes/:id/submit', { access: { roles: STAFF_ROLES }, summary: 'Submit (or re-submit after rejection/deferral); 400 lists every missing field; standard changes from the catalog are pre-approved, emergency ones go to the ECAB', body: plain }, async ({ body, principal, actor, params, requestId }) =>
    presentChange(await workflow.submit(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post(
    '/changes/:id/assess',
    { access: { roles: MANAGERS }, summary: 'Change manager assessment (CHG-05): notes, risk, conflicts; complete=true requests the approvals the rules require', body: z.object({ notes: z.string().trim().min(3).max(20_000), risk: riskAnswersSchema.optional(), complete: z.boolean().default(true), expectedVersion }) },
    async ({ body, principal, actor, params, requestId }) => presentChange(await workflow.assess(params.id!, principal, actor, { ...body, requestId })),
  );

  for (const decision of DECISIONS) {
    api.post(
      `/changes/:id/${decision}`,
      { access: { roles: DECIDERS }, summary: `${decision[0]!.toUpperCase()}${decision.slice(1)} as one of the required approvers, with a rationale (CHG-06, CHG-09); the requester and implementers never may (403, CHG-07)`, body: decisionBody },
      async ({ body, principal, actor, params, requestId }) => presentChange(await approvals.decide(params.id!, principal, actor, { ...body, decision, requestId })),
    );
  }

  api.post(
    '/changes/:id/exception',
    { access: { roles: MANAGERS }, summary: 'Record an exception with risk acceptance for the scheduling rules the window breaks (CHG-12, SCH-01, SCH-03)', body: z.object({ riskAcceptance: z.string().trim().min(10).max(5000), window: windowSchema.optional(), expectedVersion }) },
    async ({ body, principal, actor, params, requestId }) => presentChange(await workflow.recordException(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post(
    '/changes/:id/schedule',
    { access: { roles: MANAGERS }, summary: 'Schedule (or move) an approved change into its window: maintenance windows, lead time, freezes (409 naming the freeze), conflicts (SCH-01..04); notifies clients. A window in the past is refused (400, window.start). Out of the approved window a normal or emergency change goes back to awaiting_approval and its approvers are asked again; a standard change must still fit its template (409 standard_change_ineligible). Once implementation started: 409 implementation_started', body: z.object({ window: windowSchema.optional(), expectedImpact: text(2000).optional(), expectedVersion }) },
    async ({ body, principal, actor, params, requestId }) => presentChange(await workflow.schedule(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/changes/:id/start', { access: { roles: IMPLEMENTERS }, summary: 'Start implementing: assigned implementers only, inside the window, with non-production test results (IMP-01, IMP-02)', body: plain }, async ({ body, principal, actor, params, requestId }) =>
    presentChange(await workflow.start(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post(
    '/changes/:id/complete',
    {
      access: { roles: IMPLEMENTERS },
      summary: 'Finish implementing: without outcome -> validating; with outcome -> completed (IMP-03, IMP-04); a failed change can open an incident in the same step (IMP-05)',
      body: z.object({ outcome: z.enum(OUTCOMES).optional(), notes: text().optional(), openIncident: z.object({ title: z.string().max(500).optional(), severity: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]) }).optional(), expectedVersion }),
    },
    async ({ body, principal, actor, params, requestId }) => presentChange(await workflow.complete(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post(
    '/changes/:id/review',
    { access: { roles: MANAGERS }, summary: 'Post-implementation review (IMP-06); an emergency change completes its documentation here (CHG-08)', body: z.object({ summary: z.string().trim().min(10).max(20_000), testResults: text().optional(), testPlan: text().optional(), backoutPlan: text().optional(), expectedVersion }) },
    async ({ body, principal, actor, params, requestId }) => presentChange(await workflow.review(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/changes/:id/close', { access: { roles: MANAGERS }, summary: 'Close a completed (and, where required, reviewed) change', body: plain }, async ({ body, principal, actor, params, requestId }) =>
    presentChange(await workflow.close(params.id!, principal, actor, { ...body, requestId })),
  );

  api.post('/changes/:id/cancel', { access: { roles: STAFF_ROLES }, summary: 'Cancel before implementation (requester or change manager); scheduled clients are told', body: z.object({ reason: z.string().trim().min(3).max(5000), expectedVersion }) }, async ({ body, principal, actor, params, requestId }) =>
    presentChange(await workflow.cancel(params.id!, principal, actor, { ...body, requestId })),
  );
}
