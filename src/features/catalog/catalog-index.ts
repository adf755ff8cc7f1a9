import type { ClientConfig, ConfigurationItemConfig, IncidentdConfig, ServiceConfig } from '../../config/config-schema';

/**
 * Lookup tables over the configured catalog, built once per configuration (a reload
 * produces a new config object, hence a new index). Alert routing runs for every alert,
 * so it must not scan arrays.
 */
export interface CatalogIndex {
  clients: Map<string, ClientConfig>;
  services: Map<string, ServiceConfig>;
  cis: Map<string, ConfigurationItemConfig>;
  /** CI id -> ids of the services that include it. */
  servicesByCi: Map<string, string[]>;
  /** Lower-cased CI id or name -> CI id, to match an alert's `instance` host; null when ambiguous. */
  ciByHost: Map<string, string | null>;
}

const cache = new WeakMap<IncidentdConfig, CatalogIndex>();

export function catalogIndex(config: IncidentdConfig): CatalogIndex {
  let index = cache.get(config);
  if (!index) {
    index = buildIndex(config);
    cache.set(config, index);
  }
  return index;
}

function buildIndex(config: IncidentdConfig): CatalogIndex {
  const servicesByCi = new Map<string, string[]>();
  for (const service of config.services) {
    for (const ci of service.cis) servicesByCi.set(ci, [...(servicesByCi.get(ci) ?? []), service.id]);
  }
  // A name two CIs share matches neither: a guess could hand an alert to the wrong client.
  const idsByHost = new Map<string, Set<string>>();
  for (const ci of config.configurationItems) {
    for (const host of [ci.id, ci.name]) {
      if (!host) continue;
      const key = host.toLowerCase();
      idsByHost.set(key, (idsByHost.get(key) ?? new Set()).add(ci.id));
    }
  }
  const ciByHost = new Map<string, string | null>([...idsByHost].map(([host, ids]) => [host, ids.size === 1 ? [...ids][0]! : null]));
  return {
    clients: new Map(config.clients.map((client) => [client.id, client])),
    services: new Map(config.services.map((service) => [service.id, service])),
    cis: new Map(config.configurationItems.map((ci) => [ci.id, ci])),
    servicesByCi,
    ciByHost,
  };
}

/**
 * The CI an `instance` label points at: `db-01:9100`, `db-01.example.net:9100` or
 * `http://db-01/metrics` all name `db-01`.
 */
export function ciForInstance(index: CatalogIndex, instance: string): string | undefined {
  const host = instance
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/[/?#].*$/, '')
    .replace(/:\d+$/, '')
    .toLowerCase();
  if (index.ciByHost.has(host)) return index.ciByHost.get(host) ?? undefined;
  return index.ciByHost.get(host.split('.')[0]!) ?? undefined;
}
