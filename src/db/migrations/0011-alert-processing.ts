import { Migration } from '@mikro-orm/migrations';

/**
 * Every acknowledged alert is processed (issue 14 §1):
 * - incidents are found by a hash of their alert group (`group_hash`, always 32 characters)
 *   instead of an index on `dedup_key`, which an oversized group key overflowed (PostgreSQL
 *   refuses btree entries over ~2.7 KB): the key stays as it was, beside its hash;
 * - claims belong to a live processor (`claimed_by` -> `alert_processor`, whose lease is
 *   renewed every few seconds) instead of a 60 s lease per alert, so the alerts of a
 *   processor that died are taken over within seconds;
 * - attempts, the last error and a retry time per alert; alerts that fail too often are
 *   parked as poison (`parked_at`) with the triage incident opened for them.
 */
export class Migration0011AlertProcessing extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table incident add column group_hash text null;
      -- dedup_key is integration|groupKey|client (client ids have no "|"): the group is what precedes the last "|".
      update incident set group_hash = md5(regexp_replace(dedup_key, '\\|[^|]*$', '')) where dedup_key is not null;
      drop index incident_open_dedup_key;
      create index incident_group_hash_index on incident (group_hash);

      create table alert_processor (
        id text primary key,
        host text not null,
        pid int not null,
        started_at timestamptz not null,
        lease_until timestamptz not null,
        backend_pid int null,
        backend_start timestamptz null
      );

      alter table alert drop column lease_until,
        add column claimed_by text null,
        add column attempts int not null default 0,
        add column retry_at timestamptz null,
        add column last_error text null,
        add column parked_at timestamptz null,
        add column parked_incident_id int null constraint alert_parked_incident_id_foreign references incident (id) on update cascade on delete set null;
      create index alert_parked on alert (parked_at) where parked_at is not null;
      create index alert_parked_incident_id_index on alert (parked_incident_id);
    `);
  }
}
