import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Foundation } from './0001-foundation';
import { Migration0002AlertsAndIncidents } from './0002-alerts-and-incidents';
import { Migration0003TimersSlaEscalation } from './0003-timers-sla-escalation';
import { Migration0005StatusPage } from './0005-status-page';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the built JS and the
 * TypeScript sources see the same list, and so start-up can tell when the database has
 * migrations this code does not know (a newer schema).
 */
export const migrations: MigrationObject[] = [
  { name: '0001-foundation', class: Migration0001Foundation },
  { name: '0002-alerts-and-incidents', class: Migration0002AlertsAndIncidents },
  { name: '0003-timers-sla-escalation', class: Migration0003TimersSlaEscalation },
  { name: '0005-status-page', class: Migration0005StatusPage },
];
