import { Migration } from '@mikro-orm/migrations';

/** The major-incident bridge (INC-11): major flag and conference URL, roles, tasks. */
export class Migration0008Bridge extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table incident
        add column major boolean not null default false,
        add column major_declared_at timestamptz null,
        add column conference_url text null;
      update incident set major = true, major_declared_at = created_at where severity = 1;

      create table incident_role (
        id serial primary key,
        incident_id int not null constraint incident_role_incident_id_foreign references incident (id) on update cascade on delete cascade,
        role text not null,
        person_email text not null,
        person_name text not null,
        assigned_at timestamptz not null,
        assigned_by text not null,
        released_at timestamptz null
      );
      create index incident_role_incident_id_index on incident_role (incident_id);
      create unique index incident_role_current on incident_role (incident_id, role) where released_at is null;

      create table incident_task (
        id serial primary key,
        incident_id int not null constraint incident_task_incident_id_foreign references incident (id) on update cascade on delete cascade,
        title text not null,
        owner_email text null,
        status text not null,
        due_at timestamptz null,
        created_at timestamptz not null,
        created_by text not null,
        updated_at timestamptz not null,
        version int not null default 1
      );
      create index incident_task_incident_id_index on incident_task (incident_id);
    `);
  }
}
