import type { MikroORM } from '@mikro-orm/postgresql';
import type { Actor, AuditService } from '../features/audit/audit-service';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import type { ConfigStore, ReloadResult } from './config-store';
import { formatProblem } from './load-config';

/** Reload on SIGHUP or POST /-/reload: logged, counted, and audited when it succeeds. */
export function createConfigReloader(deps: { configStore: ConfigStore; orm: MikroORM; audit: AuditService; logger: Logger; metrics: Metrics }) {
  return async function reloadConfig(actor: Actor, requestId?: string): Promise<ReloadResult> {
    const result = deps.configStore.reload();
    deps.metrics.configReloads.inc({ result: result.ok ? 'success' : 'failure' });
    if (!result.ok) {
      deps.logger.error({ problems: result.problems.map(formatProblem) }, 'configuration reload refused; the previous configuration stays in force');
      return result;
    }
    const config = deps.configStore.current;
    const summary = { clients: config.clients.length, services: config.services.length, configurationItems: config.configurationItems.length };
    deps.logger.info({ file: deps.configStore.file, ...summary }, 'configuration reloaded');
    const em = deps.orm.em.fork();
    deps.audit.record(em, { actor, action: 'config.reloaded', entityType: 'config', entityId: deps.configStore.file, after: summary, requestId });
    await em.flush();
    return result;
  };
}
export type ConfigReloader = ReturnType<typeof createConfigReloader>;
