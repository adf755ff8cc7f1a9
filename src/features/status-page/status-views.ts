/**
 * View data for the handlebars status pages and the Atom feed. Times are rendered in the
 * client's time zone (pages without JavaScript), inside <time datetime> elements that the
 * page script re-renders in the viewer's own zone. Only `{{ }}` is used for anything typed.
 */
import { DateTime } from 'luxon';
import type { ComponentStatus } from '../../config/status-page-config-schema';
import type { PublicIncident, PublicMaintenance, StatusModel } from './status-model';
import { maintenanceUpdates } from './statuspage-presenter';
import { PUBLIC_STATUS_LABELS, STATUS_LABELS, worstStatus } from './status-rules';

/** Resolved incidents stay on the front page this long; older ones are on the history page. */
const RECENT_DAYS = 7;

/**
 * Times as the page shows them, remembered: the zone's short name ('ZZZZ') costs luxon a new
 * Intl formatter each time, and a build formats the same incident and update times as the
 * build before it (one per change of any open page).
 */
const timeTexts = new Map<string, string>();
const TIME_TEXTS_KEPT = 10_000;

function timeView(at: Date, timezone: string) {
  const key = `${timezone} ${at.getTime()}`;
  let text = timeTexts.get(key);
  if (text === undefined) {
    if (timeTexts.size >= TIME_TEXTS_KEPT) timeTexts.clear();
    text = DateTime.fromJSDate(at, { zone: timezone }).toFormat('d LLL yyyy, HH:mm ZZZZ');
    timeTexts.set(key, text);
  }
  return { iso: at.toISOString(), text };
}

function durationText(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  const hours = Math.floor(minutes / 60);
  return hours ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}

export function incidentView(incident: PublicIncident, model: StatusModel, pageUrl: string) {
  return {
    id: incident.id,
    name: incident.name,
    url: `${pageUrl}/incidents/${incident.id}`,
    status: incident.status,
    statusLabel: PUBLIC_STATUS_LABELS[incident.status],
    impact: incident.impact,
    started: timeView(incident.startedAt, model.client.timezone),
    resolved: incident.resolvedAt ? timeView(incident.resolvedAt, model.client.timezone) : null,
    components: componentNames(model, incident.componentIds),
    updates: incident.updates.map((update) => ({ statusLabel: PUBLIC_STATUS_LABELS[update.status], body: update.body, time: timeView(update.at, model.client.timezone) })),
  };
}

export function maintenanceView(m: PublicMaintenance, model: StatusModel) {
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    statusLabel: PUBLIC_STATUS_LABELS[m.status],
    status: m.status,
    start: timeView(m.scheduledFor, model.client.timezone),
    end: timeView(m.scheduledUntil, model.client.timezone),
    components: componentNames(model, m.componentIds),
  };
}

function componentNames(model: StatusModel, ids: string[]): string {
  return model.components.filter((c) => ids.includes(c.id)).map((c) => c.name).join(', ');
}

/** The part of the page that changes live (sent whole to open pages on every change). */
export function liveView(model: StatusModel, pageUrl: string) {
  const recentSince = model.generatedAt.getTime() - RECENT_DAYS * 86_400_000;
  const groups = [...new Set(model.components.map((c) => c.group))].map((name) => {
    const members = model.components.filter((c) => c.group === name);
    const status = worstStatus(members.map((c) => c.status));
    return {
      name,
      status,
      statusLabel: STATUS_LABELS[status],
      components: members.map((c) => ({
        id: c.id,
        name: c.name,
        description: c.description,
        status: c.status,
        statusLabel: STATUS_LABELS[c.status],
      })),
    };
  });
  return {
    overall: model.overall,
    groups,
    activeIncidents: model.incidents.filter((i) => i.status !== 'resolved').map((i) => incidentView(i, model, pageUrl)),
    maintenances: model.maintenances.filter((m) => m.status !== 'completed').map((m) => maintenanceView(m, model)),
    recentIncidents: model.incidents.filter((i) => i.status === 'resolved' && (i.resolvedAt ?? i.updatedAt).getTime() >= recentSince).map((i) => incidentView(i, model, pageUrl)),
    historyUrl: `${pageUrl}/history`,
  };
}

/**
 * The 90-day bars. Kept apart from the live part: they are most of the page's bytes and
 * change far less often than the text, so open pages receive them only when they change.
 */
export function uptimeView(model: StatusModel) {
  // Formatted once per day, not once per day and component.
  const dayNames = new Map((model.components[0]?.uptime.days ?? []).map((day) => [day.date, dayName(day.date)]));
  return {
    components: model.components.map((c) => ({
      id: c.id,
      name: c.name,
      uptimePercent: c.uptime.percent.toFixed(2),
      // Operational days carry no class: the default colour, and fewer bytes to push.
      days: c.uptime.days.map((day) => ({ status: day.status === 'operational' ? null : day.status, label: dayLabel(dayNames.get(day.date) ?? day.date, day.durations) })),
    })),
  };
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** "2026-11-05" -> "5 Nov 2026" (luxon's 'd LLL yyyy' in English), without a date library: 90 per build. */
export function dayName(isoDate: string): string {
  const [year, month, day] = isoDate.split('-').map(Number);
  return `${day} ${MONTH_NAMES[month! - 1]} ${year}`;
}

function dayLabel(day: string, durations: Partial<Record<ComponentStatus, number>>): string {
  const parts = (Object.entries(durations) as [ComponentStatus, number][]).map(([status, ms]) => `${STATUS_LABELS[status]} ${durationText(ms)}`);
  return `${day}: ${parts.length ? parts.join(', ') : 'no incidents'}`;
}

// ---------------------------------------------------------------------------
// Atom
// ---------------------------------------------------------------------------

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Atom feed (RFC 4287) of incident updates and maintenance announcements, newest first. */
export function atomFeed(model: StatusModel, pageUrl: string): string {
  const entries = [
    ...model.incidents.flatMap((i) => i.updates.map((u) => ({ id: `${pageUrl}/incidents/${i.id}#update-${u.id}`, title: `${i.name}: ${PUBLIC_STATUS_LABELS[u.status]}`, link: `${pageUrl}/incidents/${i.id}`, at: u.at, body: u.body }))),
    ...model.maintenances.flatMap((m) => maintenanceUpdates(m).filter((u) => u.at <= model.generatedAt).map((u) => ({ id: `${pageUrl}/maintenance/${encodeURIComponent(m.id)}#${u.id}`, title: `${m.name}: ${PUBLIC_STATUS_LABELS[u.status]}`, link: pageUrl, at: u.at, body: u.body }))),
  ].sort((a, b) => b.at.getTime() - a.at.getTime());
  const updated = entries[0]?.at ?? model.generatedAt;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    `  <id>${xml(pageUrl)}/history.atom</id>`,
    `  <title>${xml(model.client.title)} status history</title>`,
    `  <link rel="alternate" type="text/html" href="${xml(pageUrl)}"/>`,
    `  <link rel="self" type="application/atom+xml" href="${xml(pageUrl)}/history.atom"/>`,
    `  <updated>${updated.toISOString()}</updated>`,
    `  <author><name>${xml(model.client.title)}</name></author>`,
    ...entries.map((e) =>
      [
        '  <entry>',
        `    <id>${xml(e.id)}</id>`,
        `    <title>${xml(e.title)}</title>`,
        `    <link rel="alternate" type="text/html" href="${xml(e.link)}"/>`,
        `    <updated>${e.at.toISOString()}</updated>`,
        `    <content type="text">${xml(e.body)}</content>`,
        '  </entry>',
      ].join('\n'),
    ),
    '</feed>',
    '',
  ].join('\n');
}
