import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Foundation } from './0001-foundation';
import { Migration0002AlertsAndIncidents } from './0002-alerts-and-incidents';
import { Migration0003TimersSlaEscalation } from './0003-timers-sla-escalation';
import { Migration0004Notifications } from './0004-notifications';
import { Migration0005StatusPage } from './0005-status-page';
import { Migration0006Changes } from './0006-changes';
import { Migration0007Reviews } from './0007-reviews';
import { Migration0008Bridge } from './0008-bridge';
import { Migration0009Correlation } from './0009-correlation';
import { Migration0010ChangeApprovedWindow } from './0010-change-approved-window';
import { Migration0011AlertProcessing } from './0011-alert-processing';
import { Migration0012LoginThrottle } from './0012-login-throttle';
import { Migration0014OncallCalendarFeeds } from './0014-oncall-calendar-feeds';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the built JS and the
 * TypeScript sources see the same list, and so start-up can tell when the database has
 * migrations this code does not know (a newer schema).
 */
export const migrations: MigrationObject[] = [
  { name: '0001-foundation', class: Migration0001Foundation },
  { name: '0002-alerts-and-incidents', class: Migration0002AlertsAndIncidents },
  { name: '0003-timers-sla-escalation', class: Migration0003TimersSlaEscalation },
  { name: '0004-notifications', class: Migration0004Notifications },
  { name: '0005-status-page', class: Migration0005StatusPage },
  { name: '0006-changes', class: Migration0006Changes },
  { name: '0007-reviews', class: Migration0007Reviews },
  { name: '0008-bridge', class: Migration0008Bridge },
  { name: '0009-correlation', class: Migration0009Correlation },
  { name: '0010-change-approved-window', class: Migration0010ChangeApprovedWindow },
  { name: '0011-alert-processing', class: Migration0011AlertProcessing },
  { name: '0012-login-throttle', class: Migration0012LoginThrottle },
  { name: '0014-oncall-calendar-feeds', class: Migration0014OncallCalendarFeeds },
];
