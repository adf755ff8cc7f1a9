import { Migration } from '@mikro-orm/migrations';

/** Suspect changes of incidents and incidents held during a change window (REL-01). */
export class Migration0009Correlation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table incident add column expected_during_change int null;

      create table suspect_change (
        id serial primary key,
        incident_id int not null constraint suspect_change_incident_id_foreign references incident (id) on update cascade on delete cascade,
        label text not null,
        change_id int null constraint suspect_change_change_id_foreign references change_request (id) on update cascade on delete cascade,
        change_event_id bigint null constraint suspect_change_change_event_id_foreign references change_event (id) on update cascade on delete cascade,
        score double precision not null,
        rank int not null,
        relation text not null,
        reason text not null,
        status text not null,
        computed_at timestamptz not null,
        decided_at timestamptz null,
        decided_by text null,
        decision_note text null,
        constraint suspect_change_incident_id_label_unique unique (incident_id, label)
      );
      create index suspect_change_incident_id_index on suspect_change (incident_id);
      create index suspect_change_change_id_index on suspect_change (change_id);
      create index suspect_change_change_event_id_index on suspect_change (change_event_id);
    `);
  }
}
