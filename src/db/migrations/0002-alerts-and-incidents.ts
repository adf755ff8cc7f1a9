import { Migration } from '@mikro-orm/migrations';

/** Webhook deliveries, alerts, incidents and their timeline. */
export class Migration0002AlertsAndIncidents extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create sequence incident_number_seq start with 1000;

      create table incident (
        id serial primary key,
        number int not null,
        title text not null,
        description text not null default '',
        client_id text null,
        service_ids text[] not null default '{}',
        ci_ids text[] not null default '{}',
        severity smallint not null,
        urgency text not null,
        priority text not null,
        priority_overridden boolean not null default false,
        category text not null,
        state text not null,
        source text not null,
        reported_by text null,
        impact text not null default '',
        dedup_key text null,
        alertname text null,
        reported_at timestamptz not null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        acknowledged_at timestamptz null,
        acknowledged_by text null,
        assigned_user_id int null,
        assigned_team text null,
        first_assigned_at timestamptz null,
        mitigated_at timestamptz null,
        resolved_at timestamptz null,
        resolution_summary text null,
        closed_at timestamptz null,
        cancelled_at timestamptz null,
        alerts_cleared_at timestamptz null,
        security boolean not null default false,
        recurring boolean not null default false,
        pir_required boolean not null default false,
        truncated_alerts int not null default 0,
        version int not null default 1,
        constraint incident_number_unique unique (number)
      );
      create index incident_client_id_index on incident (client_id);
      create index incident_reported_at_index on incident (reported_at);
      -- The alert processor looks up the open incident of an alert group on every batch.
      create index incident_open_dedup_key on incident (dedup_key)
        where state in ('new', 'triaged', 'investigating', 'mitigated');

      create table incident_event (
        id bigserial primary key,
        incident_id int not null constraint incident_event_incident_id_foreign references incident (id) on update cascade on delete cascade,
        at timestamptz not null,
        type text not null,
        visibility text not null,
        actor_type text not null,
        actor_id text null,
        actor_name text not null,
        message text not null,
        data jsonb null
      );
      create index incident_event_incident_id_id_index on incident_event (incident_id, id);

      create table webhook_delivery (
        id bigserial primary key,
        integration text not null,
        kind text not null,
        received_at timestamptz not null,
        group_key text null,
        truncated_alerts int not null default 0,
        alert_count int not null,
        payload jsonb not null
      );
      create index webhook_delivery_received_at_index on webhook_delivery (received_at);

      create table alert (
        id bigserial primary key,
        integration text not null,
        fingerprint text not null,
        starts_at timestamptz not null,
        status text not null,
        ends_at timestamptz null,
        labels jsonb not null,
        annotations jsonb not null,
        generator_url text null,
        group_key text not null,
        truncated_alerts int not null default 0,
        first_delivery_id bigint not null,
        last_delivery_id bigint not null,
        received_at timestamptz not null,
        changed_at timestamptz not null,
        incident_id int null constraint alert_incident_id_foreign references incident (id) on update cascade on delete set null,
        needs_processing boolean not null default true,
        lease_until timestamptz null,
        constraint alert_integration_fingerprint_starts_at_unique unique (integration, fingerprint, starts_at)
      );
      create index alert_incident_id_index on alert (incident_id);
      -- The processor's work queue: small, because processed rows leave it.
      create index alert_needs_processing on alert (id) where needs_processing;
    `);
  }
}
