import { Migration } from '@mikro-orm/migrations';

/** Users, roles, tokens, sessions, the append-only audit trail, instance settings. */
export class Migration0001Foundation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table app_user (
        id serial primary key,
        name text not null,
        email text not null,
        password_hash text null,
        password_must_change boolean not null default false,
        created_at timestamptz not null,
        disabled_at timestamptz null,
        constraint app_user_email_unique unique (email)
      );

      create table role_grant (
        id serial primary key,
        user_id int not null constraint role_grant_user_id_foreign references app_user (id) on update cascade on delete cascade,
        role text not null,
        client_id text null,
        granted_at timestamptz not null,
        granted_by text not null,
        revoked_at timestamptz null,
        revoked_by text null
      );
      create index role_grant_user_id_index on role_grant (user_id);

      create table api_token (
        id serial primary key,
        user_id int not null constraint api_token_user_id_foreign references app_user (id) on update cascade on delete cascade,
        token_hash text not null,
        prefix text not null,
        created_at timestamptz not null,
        last_used_at timestamptz null,
        revoked_at timestamptz null,
        constraint api_token_token_hash_unique unique (token_hash)
      );
      create index api_token_user_id_index on api_token (user_id);

      create table web_session (
        id_hash text primary key,
        user_id int not null constraint web_session_user_id_foreign references app_user (id) on update cascade on delete cascade,
        created_at timestamptz not null,
        expires_at timestamptz not null
      );
      create index web_session_user_id_index on web_session (user_id);
      create index web_session_expires_at_index on web_session (expires_at);

      create table audit_event (
        id bigserial primary key,
        at timestamptz not null,
        actor_type text not null,
        actor_id text null,
        actor_name text not null,
        action text not null,
        entity_type text not null,
        entity_id text not null,
        client_id text null,
        before jsonb null,
        after jsonb null,
        request_id text null
      );
      create index audit_event_at_index on audit_event (at);
      create index audit_event_entity_type_entity_id_index on audit_event (entity_type, entity_id);

      -- The audit trail is append-only, enforced by the database itself.
      create function audit_event_refuse_change() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_event is append-only: % is not allowed', tg_op
          using errcode = 'insufficient_privilege';
      end;
      $$;
      create trigger audit_event_append_only
        before update or delete on audit_event
        for each row execute function audit_event_refuse_change();
      create trigger audit_event_no_truncate
        before truncate on audit_event
        for each statement execute function audit_event_refuse_change();

      create table instance_setting (
        key text primary key,
        value text not null,
        created_at timestamptz not null
      );
    `);
  }
}
