import type { MikroORM } from '@mikro-orm/postgresql';
import express from 'express';
import type { Registry } from 'prom-client';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { ApiRouter } from '../../platform/http/api-router';
import type { ViewRenderer } from '../../platform/http/views';
import type { LinkSigner } from '../../platform/security/signed-links';
import type { AuditService } from '../audit/audit-service';
import type { IncidentService } from '../incidents/incident-service';
import type { EmailTemplates } from '../notifications/email-templates';
import type { Outbox } from '../notifications/outbox';
import type { TimerEngine } from '../timers/timer-engine';
import { createChangeApprovals, ECAB_TIMER } from './change-approvals';
import { createChangeEvents, registerChangeEventRoutes } from './change-events';
import { registerCabRoutes } from './change-cab';
import { createCalendarPageRouter } from './change-calendar-page';
import { registerKpiRoutes } from './change-kpis';
import { createChangeLinkRouter } from './change-link-routes';
import { registerChangeMetrics } from './change-metrics';
import { createChangeNotices } from './change-notices';
import { registerChangeRoutes } from './change-routes';
import { registerScheduleRoutes } from './change-schedule-routes';
import { createChangeCore } from './change-service';
import { createChangeValidations } from './change-validation';
import { createChangeWorkflow, OVERRUN_TIMER, REMINDER_TIMER } from './change-workflow';

export type ChangeManagement = ReturnType<typeof createChangeManagement>;

/** The change-management feature's composition root: services, timers, routes. */
export function createChangeManagement(deps: {
  orm: MikroORM;
  clock: Clock;
  audit: AuditService;
  configStore: ConfigStore;
  outbox: Outbox;
  timers: TimerEngine;
  incidents: IncidentService;
  views: ViewRenderer;
  emailTemplates: EmailTemplates;
  registry: Registry;
  /** Signs the links client approvers and validators get by e-mail. */
  links: LinkSigner;
  /** Secret behind the per-client calendar feed tokens. */
  calendarSecret: string;
}) {
  const { orm, clock, audit, configStore, timers } = deps;
  const notices = createChangeNotices({ outbox: deps.outbox, templates: deps.emailTemplates, publicUrl: () => configStore.current.server.publicUrl });
  const core = createChangeCore({ orm, clock, audit, configStore });
  const signer = deps.links;
  const approvals = createChangeApprovals({ orm, clock, audit, configStore, core, notices, timers, signer });
  const validations = createChangeValidations({ orm, clock, configStore, outbox: deps.outbox, audit, signer, views: deps.views, validFor: () => configStore.current.changeApproval.clientLinkValidity });
  const workflow = createChangeWorkflow({ core, approvals, notices, validations, timers, configStore, incidents: deps.incidents, audit });
  const events = createChangeEvents({ orm, clock, configStore, audit, outbox: deps.outbox });
  registerChangeMetrics(deps.registry, orm, clock);

  timers.register(ECAB_TIMER, ({ em, timer, now }) => approvals.escalateEcab(em, timer.payload as { changeId: number; approvalId: number }, now));
  timers.register(REMINDER_TIMER, ({ em, timer }) => workflow.remind(em, timer.payload as { changeId: number; clientId: string; windowStart: string }));
  timers.register(OVERRUN_TIMER, ({ em, timer, now }) => workflow.flagOverrun(em, timer.payload as { changeId: number }, now));

  return {
    core,
    approvals,
    workflow,
    events,
    /** Routes without a session (signed approval links, calendar feeds, deploy events with integration tokens); mount before the session and CSRF middleware. */
    publicRouter: express.Router().use(createChangeLinkRouter({ approvals, views: deps.views, configStore, orm, clock, calendarSecret: deps.calendarSecret }), validations.router, events.router),
    /** Pages for signed-in staff (the forward schedule); mount after the session middleware. */
    pageRouter: createCalendarPageRouter({ orm, clock, configStore, views: deps.views, calendarSecret: deps.calendarSecret }),
    registerApiRoutes(api: ApiRouter): void {
      registerScheduleRoutes(api, { configStore, calendarSecret: deps.calendarSecret });
      registerKpiRoutes(api, { configStore, clock });
      registerChangeRoutes(api, { core, workflow, approvals, audit, configStore, validations });
      registerChangeEventRoutes(api);
      registerCabRoutes(api, { orm, clock, core, approvals });
      api.document({ method: 'get', path: '/changes/calendar.ics', summary: 'Forward schedule of change as an iCalendar (RFC 5545) feed for one client; ?client=<id>&token=<feed token>; 404 for anything invalid', access: { integration: 'calendar feed token' } });
    },
  };
}
