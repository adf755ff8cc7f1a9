import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import type { Logger } from '../../platform/logger';

/** How long a processor's claims hold without a renewal. */
export const PROCESSOR_LEASE_MS = 10_000;
/** Renewed this often, so a few missed renewals (a stalled event loop) do not lose the claims. */
const RENEW_EVERY_MS = 2_000;
/** Every statement on the lease connection is bounded: a stalled database must not hang the processor. */
const STATEMENT_TIMEOUT_MS = 5_000;

/**
 * SQL for the processors whose claims still hold: lease renewed recently, and the database
 * session that renews it still there. A daemon killed with -9 loses its session at once (the
 * kernel closes the socket), so its claims are free within a poll, not after the lease; a
 * daemon that hangs or is cut off loses them when the lease runs out. The session is
 * re-recorded at every renewal, so a pooler that moves the session around (PgBouncer in
 * transaction mode) only falls back to the lease.
 */
export const LIVE_PROCESSORS_SQL = `
  select p.id from alert_processor p
  join pg_stat_activity s on s.pid = p.backend_pid and s.backend_start = p.backend_start
  where p.lease_until > clock_timestamp()`;

const RENEW_SQL = `
  insert into alert_processor (id, host, pid, started_at, lease_until, backend_pid, backend_start)
  values ($1, $2, $3, $4, clock_timestamp() + $5 * interval '1 millisecond', pg_backend_pid(),
          (select backend_start from pg_stat_activity where pid = pg_backend_pid()))
  on conflict (id) do update set lease_until = excluded.lease_until, backend_pid = excluded.backend_pid, backend_start = excluded.backend_start`;

export type ProcessorLease = ReturnType<typeof createProcessorLease>;

/**
 * The registration of one alert processor: a row in `alert_processor` whose lease it renews
 * every RENEW_EVERY_MS on a connection of its own (not the pool's, which an alert storm can
 * keep busy), and which alert claims name (`alert.claimed_by`). Times are the database's,
 * not the injected clock's: liveness is about real seconds between processes.
 */
export function createProcessorLease(deps: { connectionString: string; logger: Logger }) {
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const startedAt = new Date();
  let client: pg.Client | null = null;
  let connecting: Promise<pg.Client> | null = null;
  let renewedAt = 0;
  let timer: NodeJS.Timeout | null = null;

  async function connection(): Promise<pg.Client> {
    if (client) return client;
    connecting ??= (async () => {
      const fresh = new pg.Client({
        connectionString: deps.connectionString,
        application_name: 'incidentd alert processor',
        connectionTimeoutMillis: 3_000,
        statement_timeout: STATEMENT_TIMEOUT_MS,
        query_timeout: STATEMENT_TIMEOUT_MS + 1_000,
      });
      // A dropped connection is replaced at the next renewal; until then the lease runs down.
      fresh.on('error', (error) => deps.logger.warn({ err: error }, 'alert processor lease connection lost'));
      fresh.on('end', () => {
        if (client === fresh) client = null;
      });
      try {
        await fresh.connect();
      } catch (error) {
        await fresh.end().catch(() => {});
        throw error;
      }
      // The lease must never keep a process alive that is otherwise done (tests, the CLI).
      (fresh as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
      client = fresh;
      return fresh;
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  }

  let renewing: Promise<void> | null = null;
  /** One renewal at a time (the timer's and a claim's may meet): a pg client runs one query at a time. */
  function renew(): Promise<void> {
    renewing ??= (async () => {
      const db = await connection();
      // Registrations of processors gone long ago are only clutter.
      if (renewedAt === 0) await db.query("delete from alert_processor where lease_until < clock_timestamp() - interval '1 hour'");
      await db.query(RENEW_SQL, [id, hostname(), process.pid, startedAt, PROCESSOR_LEASE_MS]);
      renewedAt = Date.now();
    })().finally(() => {
      renewing = null;
    });
    return renewing;
  }

  return {
    id,
    /**
     * Makes sure the lease holds before claiming: registers on first use, renews when the
     * last renewal is getting old (the timer may have been held up), and keeps renewing.
     * Throws when the database cannot be reached: then nothing may be claimed.
     */
    async hold(): Promise<string> {
      if (Date.now() - renewedAt > RENEW_EVERY_MS) await renew();
      if (!timer) {
        timer = setInterval(() => {
          renew().catch((error) => deps.logger.warn({ err: error }, 'could not renew the alert processor lease'));
        }, RENEW_EVERY_MS);
        timer.unref();
      }
      return id;
    },
    /** Ends the registration (a later hold() starts a new one): claims this processor still has are free at once. */
    async release(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      renewedAt = 0;
      await renewing?.catch(() => {});
      const db = client ?? (await connecting?.catch(() => null));
      if (!db) return;
      await db.query("update alert set claimed_by = null where split_part(claimed_by, '/', 1) = $1", [id]).catch(() => {});
      await db.query('delete from alert_processor where id = $1', [id]).catch(() => {});
      await db.end().catch(() => {});
      client = null;
    },
  };
}
