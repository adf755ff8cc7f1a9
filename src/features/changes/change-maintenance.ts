import type { MikroORM } from '@mikro-orm/postgresql';
import type { ConfigStore } from '../../config/config-store';
import type { MaintenanceSource } from '../status-page/maintenance-source';
import { changesInWindow } from './change-calendar';
import { formatChangeId } from './change-rules';
import type { ChangeRequest } from './change-entities';

/**
 * Planned maintenance for status pages (SCH-05, COM-01): the forward schedule's changes that affect a
 * client's public services. The page is public, so the title is made of those services'
 * names and the description is the change's declared expected impact, never its internal
 * title, CIs, plans or other services.
 */
export function changeMaintenanceSource(deps: { orm: MikroORM; configStore: ConfigStore; onChanged: (listener: (change: ChangeRequest) => void) => void }): MaintenanceSource {
  return {
    async scheduledFor(clientId, from, to) {
      const changes = await changesInWindow(deps.orm.em.fork(), { clientId, from, to });
      // Only this client's public services: a page never names what it does not show.
      const shown = new Map(deps.configStore.current.services.filter((service) => service.client === clientId && service.public).map((service) => [service.id, service.name]));
      return changes
        .map((change) => ({ change, serviceIds: change.serviceIds.filter((id) => shown.has(id)) }))
        .filter(({ change, serviceIds }) => serviceIds.length > 0 && change.windowStart && change.windowEnd)
        .map(({ change, serviceIds }) => {
          return {
            id: formatChangeId(change.number),
            title: `Planned maintenance: ${serviceIds.map((id) => shown.get(id)).join(', ')}`,
            description: change.expectedImpact,
            serviceIds,
            start: change.windowStart!,
            end: change.windowEnd!,
            createdAt: change.createdAt,
            updatedAt: change.updatedAt,
          };
        });
    },
    onChanged(listener) {
      deps.onChanged((change) => change.clientIds.forEach(listener));
    },
  };
}
