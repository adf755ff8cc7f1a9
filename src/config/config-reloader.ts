import { isDeepStrictEqual } from 'node:util';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Actor, AuditService } from '../features/audit/audit-service';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import type { IncidentdConfig } from './config-schema';
import type { ConfigStore } from './config-store';
import { formatProblem, type ConfigProblem } from './load-config';

export type ReloadResult = { ok: true; restartRequired: string[] } | { ok: false; problems: ConfigProblem[] };

/** Sections read once at start-up: a changed value only takes effect after a restart. */
const RESTART_ONLY_SECTIONS = ['server', 'database', 'logging'] as const;

/**
 * Reload on SIGHUP or POST /-/reload. An invalid file is refused and the old configuration
 * stays. A valid one is recorded in the audit trail first and only then put in force, so
 * no configuration is ever live without its audit row.
 */
export function createConfigReloader(deps: { configStore: ConfigStore; orm: MikroORM; audit: AuditService; logger: Logger; metrics: Metrics }) {
  return async function reloadConfig(actor: Actor, requestId?: string): Promise<ReloadResult> {
    const result = deps.configStore.readFile();
    if (!result.ok) {
      deps.metrics.configReloads.inc({ result: 'failure' });
      deps.logger.error({ problems: result.problems.map(formatProblem) }, 'configuration reload refused; the previous configuration stays in force');
      return result;
    }
    const next: IncidentdConfig = result.config;
    const restartRequired = RESTART_ONLY_SECTIONS.filter((section) => !isDeepStrictEqual(deps.configStore.current[section], next[section]));
    const summary = { clients: next.clients.length, services: next.services.length, configurationItems: next.configurationItems.length, restartRequired };
    const em = deps.orm.em.fork();
    deps.audit.record(em, { actor, action: 'config.reloaded', entityType: 'config', entityId: deps.configStore.file, after: summary, requestId });
    await em.flush();
    deps.configStore.replace(next);
    deps.metrics.configReloads.inc({ result: 'success' });
    deps.logger.info({ file: deps.configStore.file, ...summary }, 'configuration reloaded');
    if (restartRequired.length) deps.logger.warn({ sections: restartRequired }, 'these sections changed but only take effect after a restart');
    return { ok: true, restartRequired };
  };
}
export type ConfigReloader = ReturnType<typeof createConfigReloader>;
