import { Migration } from '@mikro-orm/migrations';

/** Durable timers, SLA clocks, escalation state, the notification outbox, on-call overrides. */
export class Migration0003TimersSlaEscalation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table incident add column awaiting_client boolean not null default false;

      create table timer (
        id bigserial primary key,
        kind text not null,
        incident_id int null constraint timer_incident_id_foreign references incident (id) on update cascade on delete cascade,
        due_at timestamptz not null,
        payload jsonb not null,
        status text not null,
        created_at timestamptz not null,
        fired_at timestamptz null,
        fired_by text null,
        attempts int not null default 0,
        last_error text null
      );
      create index timer_incident_id_index on timer (incident_id);
      create index timer_pending_due on timer (due_at) where status = 'pending';

      create table job_run (
        job text not null,
        scheduled_for timestamptz not null,
        started_at timestamptz not null,
        runner text not null,
        constraint job_run_pkey primary key (job, scheduled_for)
      );

      create table sla_clock (
        id serial primary key,
        incident_id int not null constraint sla_clock_incident_id_foreign references incident (id) on update cascade on delete cascade,
        kind text not null,
        target_ms bigint not null,
        calendar text not null,
        started_at timestamptz not null,
        consumed_ms bigint not null default 0,
        running_since timestamptz null,
        due_at timestamptz null,
        stopped_at timestamptz null,
        outcome text null,
        breached_at timestamptz null,
        warned text[] not null default '{}',
        constraint sla_clock_incident_id_kind_unique unique (incident_id, kind)
      );

      create table escalation (
        incident_id int not null constraint escalation_incident_id_foreign references incident (id) on update cascade on delete cascade,
        policy_id text not null,
        step_index int not null,
        round int not null default 0,
        status text not null,
        started_at timestamptz not null,
        updated_at timestamptz not null,
        constraint escalation_pkey primary key (incident_id)
      );

      create table notification (
        id bigserial primary key,
        created_at timestamptz not null,
        kind text not null,
        channel text not null,
        recipient text not null,
        incident_id int null constraint notification_incident_id_foreign references incident (id) on update cascade on delete set null,
        subject text not null,
        body text not null,
        dedup_key text not null,
        status text not null,
        send_after timestamptz not null,
        attempts int not null default 0,
        next_attempt_at timestamptz not null,
        lease_until timestamptz null,
        last_error text null,
        sent_at timestamptz null,
        combined_count int not null default 1,
        constraint notification_dedup_key_unique unique (dedup_key)
      );
      create index notification_incident_id_index on notification (incident_id);
      create index notification_recipient_created_at_index on notification (recipient, created_at);
      create index notification_pending_due on notification (next_attempt_at) where status = 'pending';

      create table oncall_override (
        id serial primary key,
        rotation_id text not null,
        email text not null,
        starts_at timestamptz not null,
        ends_at timestamptz not null,
        reason text not null default '',
        created_by text not null,
        created_at timestamptz not null,
        cancelled_at timestamptz null
      );
      create index oncall_override_rotation_id_index on oncall_override (rotation_id);
    `);
  }
}
