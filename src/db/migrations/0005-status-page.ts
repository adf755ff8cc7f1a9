import { Migration } from '@mikro-orm/migrations';

/** Status pages: staff overrides of component status, and e-mail subscribers. */
export class Migration0005StatusPage extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table status_override (
        service_id text not null,
        client_id text not null,
        status text not null,
        reason text not null,
        set_by text not null,
        set_at timestamptz not null,
        expires_at timestamptz null,
        constraint status_override_pkey primary key (service_id)
      );
      create index status_override_client_id_index on status_override (client_id);

      create table status_subscriber (
        id serial primary key,
        client_id text not null,
        email text not null,
        component_ids text[] not null default '{}',
        created_at timestamptz not null,
        confirmed_at timestamptz null,
        unsubscribed_at timestamptz null,
        constraint status_subscriber_client_id_email_unique unique (client_id, email)
      );
    `);
  }
}
