/**
 * The Atlassian Statuspage public API v2 shapes (summary.json, status.json, components.json,
 * incidents.json, incidents/unresolved.json, scheduled-maintenances*.json), with the same
 * field names and status values, so existing widgets and monitors can read our pages.
 */
import type { PublicComponent, PublicIncident, PublicMaintenance, StatusModel } from './status-model';
import { worstStatus, type MaintenanceStatus } from './status-rules';

/** Each component's created_at and updated_at, and the status they go with (see the status page service). */
export interface ComponentHistory {
  createdAt: Date;
  status: string;
  updatedAt: Date;
}

/** Statuspage lists at most this many incidents in incidents.json, and maintenances in scheduled-maintenances.json. */
const INCIDENTS_LISTED = 50;

const iso = (at: Date | null) => at?.toISOString() ?? null;

function groupId(group: string): string {
  return `group-${group.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
}

/** Maintenance has no written updates of its own: its announcements follow its window. */
export function maintenanceUpdates(m: PublicMaintenance): { id: string; status: MaintenanceStatus; body: string; at: Date }[] {
  const updates: { id: string; status: MaintenanceStatus; body: string; at: Date }[] = [{ id: `${m.id}-scheduled`, status: 'scheduled', body: m.description || `${m.name} is scheduled.`, at: m.createdAt }];
  if (m.status !== 'scheduled') updates.push({ id: `${m.id}-in-progress`, status: 'in_progress', body: 'Scheduled maintenance is currently in progress.', at: m.scheduledFor });
  if (m.status === 'completed') updates.push({ id: `${m.id}-completed`, status: 'completed', body: 'The scheduled maintenance has been completed.', at: m.scheduledUntil });
  return updates.reverse();
}

export function presentStatuspage(model: StatusModel, pageUrl: string, history: Map<string, ComponentHistory>) {
  const pageId = model.client.id;
  const updatedAt = new Date(
    Math.max(
      0,
      ...[...history.values()].map((entry) => entry.updatedAt.getTime()),
      ...model.incidents.map((incident) => incident.updatedAt.getTime()),
      ...model.maintenances.map((m) => m.updatedAt.getTime()),
    ),
  );
  const page = { id: pageId, name: model.client.title, url: pageUrl, time_zone: model.client.timezone, updated_at: iso(updatedAt) };

  const component = (c: PublicComponent) => {
    const seen = history.get(c.id);
    return {
      id: c.id,
      name: c.name,
      status: c.status,
      created_at: iso(seen?.createdAt ?? model.generatedAt),
      updated_at: iso(seen?.updatedAt ?? model.generatedAt),
      position: c.position,
      description: c.description || null,
      showcase: true,
      start_date: null,
      group_id: groupId(c.group),
      page_id: pageId,
      group: false,
      only_show_if_degraded: false,
    };
  };
  const groups = [...new Set(model.components.map((c) => c.group))].map((name, index) => {
    const members = model.components.filter((c) => c.group === name);
    const seen = members.map((c) => history.get(c.id)).filter((entry): entry is ComponentHistory => !!entry);
    return {
      id: groupId(name),
      name,
      status: worstStatus(members.map((c) => c.status)),
      created_at: iso(new Date(Math.min(...seen.map((entry) => entry.createdAt.getTime()), model.generatedAt.getTime()))),
      updated_at: iso(new Date(Math.max(...seen.map((entry) => entry.updatedAt.getTime()), 0))),
      position: model.components.length + index + 1,
      description: null,
      showcase: false,
      start_date: null,
      group_id: null,
      page_id: pageId,
      group: true,
      only_show_if_degraded: false,
      components: members.map((c) => c.id),
    };
  });
  const components = [...groups, ...model.components.map(component)];
  const componentsOf = (ids: string[]) => model.components.filter((c) => ids.includes(c.id)).map(component);

  const incident = (i: PublicIncident) => ({
    id: i.id,
    name: i.name,
    status: i.status,
    created_at: iso(i.createdAt),
    updated_at: iso(i.updatedAt),
    monitoring_at: iso(i.monitoringAt),
    resolved_at: iso(i.resolvedAt),
    impact: i.impact,
    shortlink: `${pageUrl}/incidents/${i.id}`,
    started_at: iso(i.startedAt),
    page_id: pageId,
    incident_updates: i.updates.map((u) => ({
      id: u.id,
      status: u.status,
      body: u.body,
      incident_id: i.id,
      created_at: iso(u.at),
      updated_at: iso(u.at),
      display_at: iso(u.at),
      affected_components: null,
    })),
    components: componentsOf(i.componentIds),
  });
  const maintenance = (m: PublicMaintenance) => ({
    id: m.id,
    name: m.name,
    status: m.status,
    created_at: iso(m.createdAt),
    updated_at: iso(m.updatedAt),
    monitoring_at: null,
    resolved_at: m.status === 'completed' ? iso(m.scheduledUntil) : null,
    impact: 'maintenance',
    shortlink: `${pageUrl}/maintenance/${encodeURIComponent(m.id)}`,
    started_at: iso(m.scheduledFor),
    page_id: pageId,
    incident_updates: maintenanceUpdates(m).map((u) => ({ id: u.id, status: u.status, body: u.body, incident_id: m.id, created_at: iso(u.at), updated_at: iso(u.at), display_at: iso(u.at), affected_components: null })),
    components: componentsOf(m.componentIds),
    scheduled_for: iso(m.scheduledFor),
    scheduled_until: iso(m.scheduledUntil),
  });

  const status = { indicator: model.overall.indicator, description: model.overall.description };
  const unresolved = model.incidents.filter((i) => i.status !== 'resolved').map(incident);
  const upcoming = model.maintenances.filter((m) => m.status === 'scheduled').map(maintenance);
  const active = model.maintenances.filter((m) => m.status === 'in_progress').map(maintenance);
  return {
    'summary.json': { page, components, incidents: unresolved, scheduled_maintenances: [...active, ...upcoming], status },
    'status.json': { page, status },
    'components.json': { page, components },
    'incidents.json': { page, incidents: model.incidents.slice(0, INCIDENTS_LISTED).map(incident) },
    'incidents/unresolved.json': { page, incidents: unresolved },
    'scheduled-maintenances.json': { page, scheduled_maintenances: [...model.maintenances].reverse().slice(0, INCIDENTS_LISTED).map(maintenance) },
    'scheduled-maintenances/upcoming.json': { page, scheduled_maintenances: upcoming },
    'scheduled-maintenances/active.json': { page, scheduled_maintenances: active },
  };
}
export type StatuspageEndpoint = keyof ReturnType<typeof presentStatuspage>;
