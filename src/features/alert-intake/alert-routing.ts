import type { IncidentdConfig } from '../../config/config-schema';
import type { RoutingRule } from '../../config/incident-config-schema';
import { catalogIndex, ciForInstance, type CatalogIndex } from '../catalog/catalog-index';
import { CATEGORIES, isSeverity, type Category, type Severity, type Urgency, URGENCIES, priorityFor, type Priority } from '../incidents/incident-rules';

/**
 * Routing (pure): from an alert's labels to client, services, CIs, severity, urgency,
 * priority and category. Conventional labels route directly when they name known ids or
 * values; `routing.rules` in the config set or override them. An alert that names no
 * known client still routes, with client null (the triage queue): it is never dropped.
 */
export interface AlertForRouting {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RoutedAlert {
  clientId: string | null;
  serviceIds: string[];
  ciIds: string[];
  severity: Severity;
  urgency: Urgency;
  priority: Priority;
  category: Category;
  alertname: string;
  title: string;
  /** Human explanations of what routing did, for the incident timeline. */
  notes: string[];
}

interface Wanted {
  client?: string;
  service?: string;
  ci?: string;
  severity?: Severity;
  urgency?: Urgency;
  category?: Category;
}

export function routeAlert(alert: AlertForRouting, config: IncidentdConfig, integration: { name: string; client?: string }): RoutedAlert {
  const index = catalogIndex(config);
  const { labels } = alert;
  const notes: string[] = [];
  const routing = config.routing;

  const wanted: Wanted = {
    client: labels.client,
    service: labels.service,
    ci: labels.ci,
    severity: severityFromLabel(labels.severity, routing.severityMap),
    urgency: (URGENCIES as readonly string[]).includes(labels.urgency ?? '') ? (labels.urgency as Urgency) : undefined,
    category: (CATEGORIES as readonly string[]).includes(labels.category ?? '') ? (labels.category as Category) : undefined,
  };
  if (!wanted.ci && labels.instance) wanted.ci = ciForInstance(index, labels.instance);

  for (const rule of routing.rules) {
    if (!ruleMatches(rule, labels)) continue;
    Object.assign(wanted, definedOnly(rule.set));
    notes.push(`routing rule ${rule.name ? `"${rule.name}"` : `#${routing.rules.indexOf(rule) + 1}`} applied`);
    if (!rule.continue) break;
  }

  const placement = place(wanted, index, integration, notes);
  const severity = wanted.severity ?? routing.defaultSeverity;
  if (wanted.severity === undefined) notes.push(`no usable severity label; default severity ${severity}`);
  const urgency = wanted.urgency ?? routing.urgencyBySeverity[`sev${severity}`];
  const alertname = labels.alertname ?? 'alert';
  return {
    ...placement,
    severity,
    urgency,
    priority: priorityFor(severity, urgency, config.priorityMatrix),
    category: wanted.category ?? 'other',
    alertname,
    title: alertTitle(alert.annotations) ?? alertname,
    notes,
  };
}

/** Resolves client, services and CIs against the catalog; whatever is unknown is dropped with a note. */
function place(wanted: Wanted, index: CatalogIndex, integration: { name: string; client?: string }, notes: string[]) {
  let clientId: string | null = null;
  if (wanted.client) {
    if (index.clients.has(wanted.client)) clientId = wanted.client;
    else notes.push(`unknown client "${wanted.client}"`);
  }
  const ci = wanted.ci ? index.cis.get(wanted.ci) : undefined;
  if (wanted.ci && !ci) notes.push(`unknown configuration item "${wanted.ci}"`);
  const service = wanted.service ? index.services.get(wanted.service) : undefined;
  if (wanted.service && !service) notes.push(`unknown service "${wanted.service}"`);

  // The CI or service can tell the client when the labels did not.
  clientId ??= ci?.client ?? service?.client ?? null;
  if (!clientId && integration.client && index.clients.has(integration.client)) {
    clientId = integration.client;
    notes.push(`client from integration "${integration.name}" default`);
  }
  if (!clientId) notes.push('no known client: incident goes to the triage queue');

  // Never attach another client's service or CI.
  const ciIds = ci && ci.client === clientId ? [ci.id] : [];
  if (ci && ci.client !== clientId) notes.push(`configuration item "${ci.id}" belongs to another client; ignored`);
  let serviceIds: string[] = [];
  if (service && service.client === clientId) serviceIds = [service.id];
  else if (service) notes.push(`service "${service.id}" belongs to another client; ignored`);
  else if (ciIds.length) serviceIds = index.servicesByCi.get(ciIds[0]!) ?? [];
  return { clientId, serviceIds, ciIds };
}

function severityFromLabel(value: string | undefined, map: Record<string, 1 | 2 | 3 | 4>): Severity | undefined {
  if (!value) return undefined;
  const key = value.trim().toLowerCase();
  const mapped = map[key];
  if (mapped) return mapped;
  const numeric = Number(key.replace(/^sev(erity)?[-_ ]?/, ''));
  return isSeverity(numeric) ? numeric : undefined;
}

const regexCache = new Map<string, RegExp>();
function anchored(source: string): RegExp {
  let regex = regexCache.get(source);
  if (!regex) {
    // Anchored like Alertmanager's matchers: the whole value must match.
    regex = new RegExp(`^(?:${source})$`);
    regexCache.set(source, regex);
  }
  return regex;
}

export function ruleMatches(rule: Pick<RoutingRule, 'match' | 'matchRe'>, labels: Record<string, string>): boolean {
  for (const [name, value] of Object.entries(rule.match)) if (labels[name] !== value) return false;
  for (const [name, source] of Object.entries(rule.matchRe)) if (!anchored(source).test(labels[name] ?? '')) return false;
  return true;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The human title an alert carries, if any: summary, else title, else description. */
export function alertTitle(annotations: Record<string, string>): string | undefined {
  return [annotations.summary, annotations.title, annotations.description].find((text) => typeof text === 'string' && text.trim() !== '')?.trim();
}
