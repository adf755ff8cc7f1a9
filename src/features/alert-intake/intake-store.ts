import type { MikroORM } from '@mikro-orm/postgresql';
import type { NormalizedAlert, NormalizedDelivery } from './payloads';

export interface StoreResult {
  deliveryId: string;
  /** Alert rows inserted or changed (new, resolved, ...); unchanged redeliveries count 0. */
  changed: number;
}

/**
 * Commits one webhook: the raw payload and all its alerts, in ONE statement (one round
 * trip, atomic). Alerts are upserted on their identity (integration, fingerprint,
 * startsAt); a redelivery that changes nothing writes nothing to the alert table.
 *
 * An ended occurrence never fires again (Alertmanager gives a re-fire a new startsAt), so
 * a late "firing" from the lagging half of an HA pair cannot undo a "resolved". Generic
 * alerts without an occurrence time may fire again (`allowRefire`).
 */
const UPSERT_SQL = `
with delivery as (
  insert into webhook_delivery (integration, kind, received_at, group_key, truncated_alerts, alert_count, payload)
  values (?, ?, ?, ?, ?, ?, ?::jsonb)
  returning id
), incoming as (
  select * from jsonb_to_recordset(?::jsonb)
    as x(fingerprint text, status text, starts_at timestamptz, ends_at timestamptz, labels jsonb, annotations jsonb, generator_url text)
), upserted as (
  insert into alert (integration, fingerprint, starts_at, status, ends_at, labels, annotations, generator_url, group_key,
                     truncated_alerts, first_delivery_id, last_delivery_id, received_at, changed_at, needs_processing)
  select ?, i.fingerprint, i.starts_at, i.status, i.ends_at, i.labels, i.annotations, i.generator_url, ?,
         ?, d.id, d.id, ?, ?, true
  from incoming i cross join delivery d
  on conflict (integration, fingerprint, starts_at) do update set
    status = excluded.status,
    ends_at = excluded.ends_at,
    annotations = excluded.annotations,
    truncated_alerts = excluded.truncated_alerts,
    last_delivery_id = excluded.last_delivery_id,
    changed_at = excluded.changed_at,
    needs_processing = true
  where (alert.status = 'firing' and excluded.status = 'resolved')
     or (? and alert.status = 'resolved' and excluded.status = 'firing')
  returning 1
)
select (select id from delivery) as delivery_id, (select count(*) from upserted) as changed`;

/** Generic "resolve" events name only the dedup key: every firing occurrence of it ends. */
const RESOLVE_BY_KEY_SQL = `
with delivery as (
  insert into webhook_delivery (integration, kind, received_at, group_key, truncated_alerts, alert_count, payload)
  values (?, ?, ?, ?, 0, 1, ?::jsonb)
  returning id
), resolved as (
  update alert set status = 'resolved', ends_at = ?, last_delivery_id = (select id from delivery), changed_at = ?, needs_processing = true
  where integration = ? and fingerprint = ? and status = 'firing'
  returning 1
)
select (select id from delivery) as delivery_id, (select count(*) from resolved) as changed`;

export async function storeDelivery(
  orm: MikroORM,
  input: { integration: string; kind: string; receivedAt: Date; rawPayload: unknown; delivery: NormalizedDelivery; allowRefire: boolean; resolveByKey?: boolean },
): Promise<StoreResult> {
  const { integration, kind, receivedAt, delivery } = input;
  const connection = orm.em.getConnection();
  const payload = JSON.stringify(input.rawPayload);
  let rows: { delivery_id: string; changed: string }[];
  if (input.resolveByKey) {
    const alert = delivery.alerts[0]!;
    rows = await connection.execute(RESOLVE_BY_KEY_SQL, [integration, kind, receivedAt, delivery.groupKey, payload, alert.endsAt, receivedAt, integration, alert.fingerprint]);
  } else {
    rows = await connection.execute(UPSERT_SQL, [
      integration,
      kind,
      receivedAt,
      delivery.groupKey,
      delivery.truncatedAlerts,
      delivery.alerts.length,
      payload,
      JSON.stringify(dedupe(delivery.alerts).map(toRecord)),
      integration,
      delivery.groupKey,
      delivery.truncatedAlerts,
      receivedAt,
      receivedAt,
      input.allowRefire,
    ]);
  }
  return { deliveryId: String(rows[0]!.delivery_id), changed: Number(rows[0]!.changed) };
}

/**
 * One row per identity: PostgreSQL refuses to upsert the same row twice in one statement,
 * and a sender may repeat an alert within one payload. The resolved state wins.
 */
function dedupe(alerts: NormalizedAlert[]): NormalizedAlert[] {
  const byIdentity = new Map<string, NormalizedAlert>();
  for (const alert of alerts) {
    const key = `${alert.fingerprint}\u0000${alert.startsAt}`;
    const seen = byIdentity.get(key);
    if (!seen || (seen.status === 'firing' && alert.status === 'resolved')) byIdentity.set(key, alert);
  }
  return [...byIdentity.values()];
}

function toRecord(alert: NormalizedAlert) {
  return {
    fingerprint: alert.fingerprint,
    status: alert.status,
    starts_at: alert.startsAt,
    ends_at: alert.endsAt,
    labels: alert.labels,
    annotations: alert.annotations,
    generator_url: alert.generatorUrl,
  };
}
