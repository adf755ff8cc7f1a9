import { Migration } from '@mikro-orm/migrations';

/** Change management: RFCs, their approvals, deploy events, CAB meetings and agendas. */
export class Migration0006Changes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create sequence change_number_seq start with 2000;

      create table change_request (
        id serial primary key,
        number int not null constraint change_request_number_unique unique,
        title text not null,
        description text not null default '',
        justification text not null default '',
        type text not null,
        standard_change_id text null,
        state text not null,
        outcome text null,
        requester_id int not null,
        requester_email text not null,
        vendor text null,
        implementers text[] not null default '{}',
        client_ids text[] not null default '{}',
        service_ids text[] not null default '{}',
        ci_ids text[] not null default '{}',
        implementation_plan text not null default '',
        test_plan text not null default '',
        test_results text not null default '',
        backout_plan text not null default '',
        communication_plan text not null default '',
        expected_impact text not null default '',
        alerts_during_window text not null default 'hold',
        window_start timestamptz null,
        window_end timestamptz null,
        risk_answers jsonb null,
        risk_score int null,
        risk_level text null,
        risk_factors jsonb null,
        assessment_notes text null,
        conditions text null,
        schedule_exception jsonb null,
        resubmissions int not null default 0,
        approval_round int not null default 0,
        implementation_notes text null,
        overrun boolean not null default false,
        pir_required boolean not null default false,
        pir_summary text null,
        pir_completed_at timestamptz null,
        incident_id int null constraint change_request_incident_id_foreign references incident (id) on update cascade on delete set null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        submitted_at timestamptz null,
        approved_at timestamptz null,
        scheduled_at timestamptz null,
        actual_start timestamptz null,
        actual_end timestamptz null,
        completed_at timestamptz null,
        closed_at timestamptz null,
        cancelled_at timestamptz null,
        version int not null default 1
      );
      create index change_request_incident_id_index on change_request (incident_id);
      create index change_request_state_window_start_index on change_request (state, window_start);

      create table change_approval (
        id serial primary key,
        change_id int not null constraint change_approval_change_id_foreign references change_request (id) on update cascade on delete cascade,
        round int not null,
        approver_group text not null,
        reason text not null,
        status text not null,
        requested_at timestamptz not null,
        decided_at timestamptz null,
        decided_by text null,
        rationale text null,
        conditions text null,
        link_used_at timestamptz null
      );
      create index change_approval_change_id_index on change_approval (change_id);

      create table change_event (
        id bigserial primary key,
        integration text not null,
        external_id text null,
        received_at timestamptz not null,
        occurred_at timestamptz not null,
        summary text not null,
        source text not null,
        client_id text null,
        service_id text null,
        ci_id text null,
        links jsonb null,
        change_id int null constraint change_event_change_id_foreign references change_request (id) on update cascade on delete set null,
        unauthorized boolean not null default false,
        unauthorized_reason text null,
        constraint change_event_integration_external_id_unique unique (integration, external_id)
      );
      create index change_event_occurred_at_index on change_event (occurred_at);
      create index change_event_change_id_index on change_event (change_id);
      create index change_event_unauthorized on change_event (occurred_at) where unauthorized;

      create table cab_meeting (
        id serial primary key,
        title text not null,
        scheduled_for timestamptz not null,
        created_by text not null,
        created_at timestamptz not null,
        notes text not null default '',
        attendees text[] not null default '{}'
      );

      create table cab_agenda_item (
        id serial primary key,
        meeting_id int not null constraint cab_agenda_item_meeting_id_foreign references cab_meeting (id) on update cascade on delete cascade,
        change_id int not null constraint cab_agenda_item_change_id_foreign references change_request (id) on update cascade on delete cascade,
        position int not null,
        decision text null,
        rationale text null,
        conditions text null,
        decided_by text null,
        decided_at timestamptz null
      );
      create index cab_agenda_item_meeting_id_index on cab_agenda_item (meeting_id);
      create index cab_agenda_item_change_id_index on cab_agenda_item (change_id);

      create table change_validation (
        id serial primary key,
        change_id int not null constraint change_validation_change_id_foreign references change_request (id) on update cascade on delete cascade,
        client_id text not null,
        contact_email text not null,
        contact_name text not null,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        answered_at timestamptz null,
        outcome text null,
        note text null
      );
      create index change_validation_change_id_index on change_validation (change_id);
    `);
  }
}
