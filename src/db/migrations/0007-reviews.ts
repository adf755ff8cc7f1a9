import { Migration } from '@mikro-orm/migrations';

/** Post-incident reviews and their action items (INC-12). */
export class Migration0007Reviews extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table post_incident_review (
        id serial primary key,
        incident_id int not null constraint post_incident_review_incident_id_foreign references incident (id) on update cascade on delete cascade,
        status text not null,
        reason text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        facts jsonb not null,
        facts_at timestamptz not null,
        root_cause text not null default '',
        contributing_factors text not null default '',
        went_well text not null default '',
        went_badly text not null default '',
        lessons_learned text not null default '',
        closed_at timestamptz null,
        closed_by text null,
        version int not null default 1,
        constraint post_incident_review_incident_id_unique unique (incident_id)
      );

      create table review_action_item (
        id serial primary key,
        review_id int not null constraint review_action_item_review_id_foreign references post_incident_review (id) on update cascade on delete cascade,
        title text not null,
        owner text not null,
        due_at timestamptz not null,
        status text not null,
        created_at timestamptz not null,
        created_by text not null,
        done_at timestamptz null,
        deferred_reason text null,
        deferred_by text null,
        last_reminded_at timestamptz null,
        version int not null default 1
      );
      create index review_action_item_review_id_index on review_action_item (review_id);
    `);
  }
}
