import type { MikroORM } from '@mikro-orm/postgresql';
import type { NormalizedAlert } from './payloads';

export interface StoreResult {
  deliveryId: string;
  /** Alert rows inserted or changed (new, resolved, ...); unchanged redeliveries count 0. */
  changed: number;
}

/*
 * Each webhook is committed in ONE statement (one round trip, atomic): the raw payload and
 * its alerts. Alerts are upserted on their identity (integration, fingerprint, startsAt);
 * a redelivery that changes nothing writes nothing to the alert table. A change puts the
 * alert back in the processor's queue with a clean slate, parked as poison or not.
 *
 * An ended occurrence never fires again (Alertmanager gives a re-fire a new startsAt), so
 * a late "firing" from the lagging half of an HA pair cannot undo a "resolved". Generic
 * alerts without an occurrence time may fire again (`allow_refire`).
 */
const UPSERT_ALERTS = `
  upserted as (
    insert into alert (integration, fingerprint, starts_at, status, ends_at, labels, annotations, generator_url, group_key,
                       truncated_alerts, first_delivery_id, last_delivery_id, received_at, changed_at, needs_processing)
    select :integration, i.fingerprint, i.starts_at, i.status, i.ends_at, i.labels, i.annotations, i.generator_url, :groupKey,
           :truncatedAlerts, d.id, d.id, :receivedAt, :receivedAt, true
    from incoming i cross join delivery d
    on conflict (integration, fingerprint, starts_at) do update set
      status = excluded.status,
      ends_at = excluded.ends_at,
      annotations = excluded.annotations,
      truncated_alerts = excluded.truncated_alerts,
      last_delivery_id = excluded.last_delivery_id,
      changed_at = excluded.changed_at,
      needs_processing = true,
      attempts = 0, retry_at = null, parked_at = null
    where (alert.status = 'firing' and excluded.status = 'resolved')
       or (:allowRefire and alert.status = 'resolved' and excluded.status = 'firing')
    returning 1
  )
  select (select id from delivery) as delivery_id, (select count(*) from upserted) as changed`;

const INSERT_DELIVERY = `
  delivery as (
    insert into webhook_delivery (integration, kind, received_at, group_key, truncated_alerts, alert_count, payload)
    values (:integration, :kind, :receivedAt, :groupKey, :truncatedAlerts, :alertCount, :payload::jsonb)
    returning id, payload
  )`;

const RECORDS_SQL = `
with ${INSERT_DELIVERY},
incoming as (
  select * from jsonb_to_recordset(:records::jsonb)
    as x(fingerprint text, status text, starts_at timestamptz, ends_at timestamptz, labels jsonb, annotations jsonb, generator_url text)
),
${UPSERT_ALERTS}`;

/** Generic "resolve" events name only the dedup key: every firing occurrence of it ends. */
const RESOLVE_BY_KEY_SQL = `
with ${INSERT_DELIVERY},
resolved as (
  update alert set status = 'resolved', ends_at = :receivedAt, last_delivery_id = (select id from delivery), changed_at = :receivedAt, needs_processing = true,
                   attempts = 0, retry_at = null, parked_at = null
  where integration = :integration and fingerprint = :fingerprint and status = 'firing'
  returning 1
)
select (select id from delivery) as delivery_id, (select count(*) from resolved) as changed`;

export interface DeliveryInput {
  integration: string;
  kind: 'alertmanager' | 'grafana' | 'generic';
  receivedAt: Date;
  /** The body exactly as received. */
  rawPayload: string;
  groupKey: string;
  truncatedAlerts: number;
  alertCount: number;
}

async function run(orm: MikroORM, sql: string, bindings: Record<string, unknown>): Promise<StoreResult> {
  // knex sends the values as bind parameters. (MikroORM's execute() would inline them into
  // the SQL text, escaping megabytes of JSON on the hot path.)
  const result = await orm.em.getConnection().getKnex().raw(sql, bindings);
  const row = result.rows[0] as { delivery_id: string; changed: string };
  return { deliveryId: String(row.delivery_id), changed: Number(row.changed) };
}

/**
 * Alertmanager and Grafana webhooks, one or several in one statement (one round trip, one
 * commit). The alerts are read out of the stored payloads by PostgreSQL itself, so each
 * webhook crosses the wire once. Delivery ids are drawn first so each webhook's alerts
 * point at their own delivery. Identities are deduplicated across the whole batch, the
 * resolved state winning: the two halves of an HA pair often land in the same batch, and
 * PostgreSQL refuses to upsert a row twice in one statement. Senders without fingerprints
 * (old Grafana) get one from the label set.
 */
const BATCH_SQL = `
with batch as (
  select (e->>'idx')::int as idx, nextval('webhook_delivery_id_seq') as id, e->>'integration' as integration, e->>'kind' as kind,
         e->>'groupKey' as group_key, (e->>'truncatedAlerts')::int as truncated_alerts, (e->>'alertCount')::int as alert_count, e->'payload' as payload
  from jsonb_array_elements(:batch::jsonb) as e
),
delivery as (
  insert into webhook_delivery (id, integration, kind, received_at, group_key, truncated_alerts, alert_count, payload)
  select id, integration, kind, :receivedAt, group_key, truncated_alerts, alert_count, payload from batch
),
incoming as (
  select distinct on (integration, fingerprint, starts_at) * from (
    select b.idx, b.id as delivery_id, b.integration, b.group_key, b.truncated_alerts,
           coalesce(nullif(a->>'fingerprint', ''), left(md5((a->'labels')::text), 16)) as fingerprint,
           a->>'status' as status,
           (a->>'startsAt')::timestamptz as starts_at,
           case when a->>'status' = 'resolved' and a->>'endsAt' is not null and a->>'endsAt' not like '0001-%'
                then (a->>'endsAt')::timestamptz end as ends_at,
           a->'labels' as labels,
           coalesce(a->'annotations', '{}'::jsonb) as annotations,
           nullif(a->>'generatorURL', '') as generator_url
    from batch b, jsonb_array_elements(b.payload->'alerts') as a
  ) extracted
  order by integration, fingerprint, starts_at, status = 'resolved' desc, idx
),
upserted as (
  insert into alert (integration, fingerprint, starts_at, status, ends_at, labels, annotations, generator_url, group_key,
                     truncated_alerts, first_delivery_id, last_delivery_id, received_at, changed_at, needs_processing)
  select i.integration, i.fingerprint, i.starts_at, i.status, i.ends_at, i.labels, i.annotations, i.generator_url, i.group_key,
         i.truncated_alerts, i.delivery_id, i.delivery_id, :receivedAt, :receivedAt, true
  from incoming i
  on conflict (integration, fingerprint, starts_at) do update set
    status = excluded.status,
    ends_at = excluded.ends_at,
    annotations = excluded.annotations,
    truncated_alerts = excluded.truncated_alerts,
    last_delivery_id = excluded.last_delivery_id,
    changed_at = excluded.changed_at,
    needs_processing = true,
    attempts = 0, retry_at = null, parked_at = null
  where alert.status = 'firing' and excluded.status = 'resolved'
  returning last_delivery_id
)
select b.idx, b.id as delivery_id, (select count(*) from upserted u where u.last_delivery_id = b.id) as changed
from batch b order by b.idx`;

export async function storeAlertmanagerDeliveries(orm: MikroORM, inputs: DeliveryInput[], receivedAt: Date): Promise<StoreResult[]> {
  // The raw payloads are valid JSON already: spliced in as they are, not parsed and re-serialised.
  const batch = `[${inputs
    .map((input, idx) => `{"idx":${idx},"integration":${JSON.stringify(input.integration)},"kind":${JSON.stringify(input.kind)},"groupKey":${JSON.stringify(input.groupKey)},"truncatedAlerts":${input.truncatedAlerts},"alertCount":${input.alertCount},"payload":${input.rawPayload}}`)
    .join(',')}]`;
  const result = await orm.em.getConnection().getKnex().raw(BATCH_SQL, { batch, receivedAt });
  return (result.rows as { delivery_id: string; changed: string }[]).map((row) => ({ deliveryId: String(row.delivery_id), changed: Number(row.changed) }));
}

export function storeGenericDelivery(orm: MikroORM, input: DeliveryInput & { alert: NormalizedAlert; resolveByKey: boolean }): Promise<StoreResult> {
  const { alert } = input;
  const bindings = { ...input, payload: input.rawPayload, allowRefire: true, fingerprint: alert.fingerprint };
  if (input.resolveByKey) return run(orm, RESOLVE_BY_KEY_SQL, bindings);
  const record = { fingerprint: alert.fingerprint, status: alert.status, starts_at: alert.startsAt, ends_at: alert.endsAt, labels: alert.labels, annotations: alert.annotations, generator_url: alert.generatorUrl };
  return run(orm, RECORDS_SQL, { ...bindings, records: JSON.stringify([record]) });
}
