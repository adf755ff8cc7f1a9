import { Migration } from '@mikro-orm/migrations';

/** E-mail delivery details on the outbox; client communication state and restoration feedback (INC-09, INC-05, INC-13). */
export class Migration0004Notifications extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table notification
        add column client_id text null,
        add column html text null,
        add column headers jsonb null,
        add column message_id text null,
        add column response text null;
      create index notification_unsent on notification (channel, status) where status <> 'sent';

      create table incident_communication (
        incident_id int not null constraint incident_communication_incident_id_foreign references incident (id) on update cascade on delete cascade,
        client_id text not null,
        started_at timestamptz not null,
        initial_notice_at timestamptz null,
        last_update_at timestamptz null,
        updates_sent int not null default 0,
        next_update_due_at timestamptz null,
        restoration_notice_at timestamptz null,
        constraint incident_communication_pkey primary key (incident_id)
      );

      create table restoration_feedback (
        id bigserial primary key,
        incident_id int not null constraint restoration_feedback_incident_id_foreign references incident (id) on update cascade on delete cascade,
        client_id text not null,
        contact_email text not null,
        contact_name text not null,
        resolved_at timestamptz not null,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        responded_at timestamptz null,
        outcome text null,
        rating smallint null,
        comment text null
      );
      create index restoration_feedback_incident_id_index on restoration_feedback (incident_id);
      create index restoration_feedback_client_id_index on restoration_feedback (client_id);
    `);
  }
}
