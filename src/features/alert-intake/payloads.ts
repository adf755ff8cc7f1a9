import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CATEGORIES, SOURCES, URGENCIES } from '../incidents/incident-rules';

/**
 * Webhook payloads (Alertmanager v4, Grafana, generic JSON) and their normalisation into
 * one alert shape. Pure: no database, no HTTP.
 */

/**
 * Text PostgreSQL can store: no NUL characters, no unpaired surrogates. Refusing it here
 * answers 400 (the sender can never succeed); letting it through would fail in the
 * database as a 500 and the sender would retry forever.
 */
const text = z.string().refine((value) => !value.includes('\u0000') && value.isWellFormed(), { error: 'contains a NUL character or invalid Unicode' });
const labelSet = z.record(text, text);
const timestamp = z.iso
  .datetime({ offset: true, local: false, error: 'expected an RFC 3339 timestamp' })
  .refine((value) => !value.startsWith('0000'), { error: 'year 0 does not exist' });

/*
 * Keys that reach a database index are bounded, so an acknowledged alert can always be
 * stored and processed (PostgreSQL refuses btree index entries over ~2.7 KB, which used to
 * answer 500, or break processing after a 202):
 * - fingerprint (and the generic dedupKey, which becomes the fingerprint) is part of the
 *   alert's unique index: refused above MAX_FINGERPRINT_LENGTH with a 400 naming the field.
 *   Alertmanager and Grafana send 16 hex digits.
 * - groupKey grows with Alertmanager's group_by labels, so any length up to
 *   MAX_GROUP_KEY_LENGTH is stored as sent; incidents are found by its hash
 *   (incident.group_hash), never by an index on the key itself. Beyond that it is refused:
 *   every alert row keeps a copy.
 */
export const MAX_FINGERPRINT_LENGTH = 255;
export const MAX_GROUP_KEY_LENGTH = 65_536;
const fingerprint = text.min(1).max(MAX_FINGERPRINT_LENGTH, { error: `at most ${MAX_FINGERPRINT_LENGTH} characters (it identifies the alert; Alertmanager and Grafana send 16)` });
const groupKey = text.min(1).max(MAX_GROUP_KEY_LENGTH, { error: `at most ${MAX_GROUP_KEY_LENGTH} characters` });

/** One alert as Alertmanager sends it; Grafana sends the same shape with a few extras. */
function alertSchema() {
  return z.object({
    status: z.enum(['firing', 'resolved']),
    labels: labelSet,
    annotations: labelSet.default({}),
    startsAt: timestamp,
    endsAt: timestamp.optional(),
    generatorURL: text.default(''),
    fingerprint,
  });
}

/** Alertmanager webhook, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export const alertmanagerPayloadSchema = z.object({
  version: z.literal('4', { error: 'expected webhook version "4"' }),
  groupKey,
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(alertSchema()),
});
export type AlertmanagerPayload = z.infer<typeof alertmanagerPayloadSchema>;

/** Grafana alerting webhook contact point (same alert shape as Alertmanager, plus extras). */
export const grafanaPayloadSchema = z.object({
  receiver: z.string().default(''),
  status: z.enum(['firing', 'resolved']),
  groupKey,
  truncatedAlerts: z.number().int().min(0).default(0),
  externalURL: z.string().default(''),
  title: z.string().optional(),
  alerts: z.array(
    alertSchema().extend({
      // Grafana 9+ sends it; older versions do not, and then the labels identify the alert.
      fingerprint: fingerprint.optional(),
      dashboardURL: z.string().optional(),
      panelURL: z.string().optional(),
      valueString: z.string().optional(),
    }),
  ),
});
export type GrafanaPayload = z.infer<typeof grafanaPayloadSchema>;

/**
 * The generic shape, for scripts and for staff logging a client-reported incident.
 * Documented in the OpenAPI document.
 */
export const genericPayloadSchema = z.object({
  summary: text.trim().min(1).max(500).describe('one line: what is wrong'),
  description: text.max(20_000).optional(),
  action: z.enum(['trigger', 'resolve']).default('trigger'),
  dedupKey: z
    .string()
    .min(1)
    .max(MAX_FINGERPRINT_LENGTH, { error: `at most ${MAX_FINGERPRINT_LENGTH} characters (it identifies the alert)` })
    .optional()
    .describe('events with the same key update one alert; required to resolve'),
  severity: z.union([z.enum(['critical', 'high', 'error', 'warning', 'info']), z.number().int().min(1).max(4)]).optional(),
  urgency: z.enum(URGENCIES).optional(),
  category: z.enum(CATEGORIES).optional(),
  client: z.string().optional(),
  service: z.string().optional(),
  ci: z.string().optional(),
  labels: labelSet.default({}),
  source: z.enum(SOURCES).default('monitoring').describe('phone, email or portal for a client-reported incident'),
  reportedBy: text.max(200).optional().describe('who reported it (client-reported incidents)'),
  occurredAt: timestamp.optional(),
  links: z.array(z.string().url()).max(20).default([]),
}).refine((payload) => payload.action === 'trigger' || payload.dedupKey, { error: 'resolve needs the dedupKey of the alert to resolve', path: ['dedupKey'] });
export type GenericPayload = z.infer<typeof genericPayloadSchema>;

export interface NormalizedAlert {
  fingerprint: string;
  status: 'firing' | 'resolved';
  startsAt: string;
  endsAt: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorUrl: string | null;
}

/**
 * A generic event's identity is its dedup key and, when given, the time it occurred; a
 * retried trigger without `occurredAt` updates the same alert instead of adding one.
 */
export function normalizeGeneric(payload: GenericPayload, receivedAt: Date): NormalizedAlert {
  // Without a key every trigger is its own alert (and cannot be resolved by key later).
  const dedupKey = payload.dedupKey ?? `generated:${randomUUID()}`;
  const labels: Record<string, string> = { ...payload.labels, alertname: payload.labels.alertname ?? payload.summary.slice(0, 120) };
  if (payload.client) labels.client = payload.client;
  if (payload.service) labels.service = payload.service;
  if (payload.ci) labels.ci = payload.ci;
  if (payload.severity !== undefined) labels.severity = String(payload.severity);
  if (payload.urgency) labels.urgency = payload.urgency;
  if (payload.category) labels.category = payload.category;
  const annotations: Record<string, string> = { summary: payload.summary, source: payload.source };
  if (payload.description) annotations.description = payload.description;
  if (payload.reportedBy) annotations.reportedBy = payload.reportedBy;
  if (payload.links.length) annotations.links = payload.links.join(' ');
  const resolved = payload.action === 'resolve';
  return {
    fingerprint: dedupKey,
    status: resolved ? 'resolved' : 'firing',
    startsAt: payload.occurredAt ? new Date(payload.occurredAt).toISOString() : GENERIC_OPEN_OCCURRENCE,
    endsAt: resolved ? receivedAt.toISOString() : null,
    labels,
    annotations,
    generatorUrl: payload.links[0] ?? null,
  };
}

/** startsAt of generic alerts sent without `occurredAt`: one open occurrence per dedup key. */
export const GENERIC_OPEN_OCCURRENCE = '1970-01-01T00:00:00.000Z';
