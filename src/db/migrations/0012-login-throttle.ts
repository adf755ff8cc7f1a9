import { Migration } from '@mikro-orm/migrations';

/** Failed sign-in counters shared by every replica (LoginThrottleSchema, login-throttle.ts). */
export class Migration0012LoginThrottle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table login_throttle (
        key_hash text primary key,
        kind text not null,
        failures int not null,
        window_start timestamptz not null
      );
      create index login_throttle_window_start_index on login_throttle (window_start);
    `);
  }
}
