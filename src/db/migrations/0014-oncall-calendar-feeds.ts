import { Migration } from '@mikro-orm/migrations';

/** Secret per-user addresses of the on-call calendar feeds: only the token's hash is stored. */
export class Migration0014OncallCalendarFeeds extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table oncall_calendar_feed (
        user_id int not null constraint oncall_calendar_feed_user_id_foreign references app_user (id) on update cascade on delete cascade,
        token_hash text not null,
        created_at timestamptz not null,
        created_by text not null,
        constraint oncall_calendar_feed_pkey primary key (user_id),
        constraint oncall_calendar_feed_token_hash_unique unique (token_hash)
      );
    `);
  }
}
