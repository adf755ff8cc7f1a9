import { z } from 'zod';
import type { ConfigStore } from '../../config/config-store';
import { NotFoundError } from '../../platform/errors';
import type { ApiRouter } from '../../platform/http/api-router';
import { STAFF_ROLES } from '../auth/roles';
import { canSeeClient } from '../auth/principal';


/**
 * Read-only view of the configured catalog (clients, services, configuration items).
 * A client contact sees only their own client; another client's id answers 404, the same
 * as an id that does not exist, so ids of other clients are not revealed.
 */
export function registerCatalogRoutes(api: ApiRouter, configStore: ConfigStore) {
  api.get('/clients', { access: { anyAuthenticated: true }, summary: 'Clients visible to the caller' }, ({ principal }) =>
    configStore.current.clients.filter((client) => canSeeClient(principal, client.id)).map(presentClient),
  );

  api.get('/clients/:clientId', { access: { anyAuthenticated: true }, summary: 'One client with its services' }, ({ principal, params }) => {
    const config = configStore.current;
    const client = config.clients.find((candidate) => candidate.id === params.clientId);
    if (!client || !canSeeClient(principal, client.id)) throw new NotFoundError(`no client ${params.clientId}`);
    return { ...presentClient(client), services: config.services.filter((service) => service.client === client.id) };
  });

  api.get(
    '/services',
    { access: { anyAuthenticated: true }, summary: 'Services, optionally of one client', query: z.object({ client: z.string().optional() }) },
    ({ principal, query }) =>
      configStore.current.services.filter((service) => canSeeClient(principal, service.client) && (!query.client || service.client === query.client)),
  );

  api.get(
    '/configuration-items',
    { access: { roles: STAFF_ROLES }, summary: 'Configuration items (CMDB), optionally of one client', query: z.object({ client: z.string().optional() }) },
    ({ query }) => configStore.current.configurationItems.filter((ci) => !query.client || ci.client === query.client),
  );
}

type Client = ConfigStore['current']['clients'][number];

function presentClient(client: Client) {
  return {
    id: client.id,
    name: client.name,
    timezone: client.timezone,
    accountManager: client.accountManager,
    contacts: client.contacts,
    sla: client.sla,
    maintenanceWindows: client.maintenanceWindows,
    statusPage: client.statusPage,
  };
}
