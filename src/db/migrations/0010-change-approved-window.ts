import { Migration } from '@mikro-orm/migrations';

/**
 * The window an approval covers (IMP-01, CHG-06): moving a change out of it withdraws the
 * approvals and asks again. Changes approved before this migration take the window they had
 * when they were approved, read from the audit trail (the step into `approved`).
 */
export class Migration0010ChangeApprovedWindow extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table change_request add column approved_window_start timestamptz null, add column approved_window_end timestamptz null;

      update change_request c
         set approved_window_start = (a.after ->> 'windowStart')::timestamptz,
             approved_window_end = (a.after ->> 'windowEnd')::timestamptz
        from (select distinct on (entity_id) entity_id, after
                from audit_event
               where entity_type = 'change' and after ->> 'state' = 'approved' and before ->> 'state' is distinct from 'approved'
               order by entity_id, id desc) a
       where a.entity_id = 'CHG-' || c.number and c.state in ('approved', 'scheduled');
    `);
  }
}
