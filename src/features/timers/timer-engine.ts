import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock';
import { createPollingLoop } from '../../platform/polling-loop';
import type { Logger } from '../../platform/logger';
import { TimerSchema, type Timer } from './timer-entities';

export interface NewTimer {
  kind: string;
  incidentId: number | null;
  dueAt: Date;
  payload: Record<string, unknown>;
}

export interface TimerContext {
  /** The transaction the timer is claimed in: the handler's writes commit with the "fired" mark. */
  em: EntityManager;
  timer: Timer;
  now: Date;
  /** Another incident the handler changed (a timer about a change, say): announced to live views with the timer's own once committed. */
  touched: (incidentId: number) => void;
}
export type TimerHandler = (context: TimerContext) => Promise<void>;

// Small claims: a daemon that is busy (an alert storm) must not sit on due timers another
// replica could fire right now.
const BATCH_SIZE = 25;
const BUSY_BATCH_SIZE = 3;

interface Outcome {
  kind: string;
  ok: boolean;
  lateSeconds?: number;
  incidentIds: number[];
}
const POLL_INTERVAL_MS = 200;
const RETRY_DELAY_MS = 30_000;
const MAX_ATTEMPTS = 5;

export type TimerEngine = ReturnType<typeof createTimerEngine>;

/**
 * Fires durable timers exactly once, on time, across restarts and replicas.
 *
 * - Timers are rows. Writing one happens in the transaction of the change that needs it,
 *   so a timer exists if and only if its cause was committed.
 * - The engine claims due rows with FOR UPDATE SKIP LOCKED, runs their handlers in the
 *   same transaction, and marks the rows fired before committing. Two engines never claim
 *   the same row; a crash (kill -9) before the commit rolls everything back, so the timer
 *   is still pending and fires after the restart ("backfill"), once.
 * - A handler that throws is retried later; after MAX_ATTEMPTS the timer is marked failed
 *   and logged.
 */
export function createTimerEngine(deps: {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  runnerId?: string;
  /** True while this daemon is busy with an alert storm: it then claims few timers at a time, leaving the rest to idle replicas. */
  busy?: () => boolean;
  /** After a commit: the incidents whose timers fired (their timelines may have grown), for live views. */
  fired?: (incidentIds: number[]) => void;
}) {
  const { orm, clock, logger } = deps;
  const runnerId = deps.runnerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const handlers = new Map<string, TimerHandler>();
  const lateness = new Histogram({
    name: 'incidentd_escalation_lateness_seconds',
    help: 'How late durable timers (escalation steps, SLA warnings and breaches) fire: fire time - due time',
    labelNames: ['kind'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [deps.registry],
  });
  const fired = new Counter({ name: 'incidentd_timers_fired_total', help: 'Durable timers fired, by kind and result', labelNames: ['kind', 'result'] as const, registers: [deps.registry] });
  new Gauge({
    name: 'incidentd_timers_pending',
    help: 'Durable timers waiting to fire',
    registers: [deps.registry],
    async collect() {
      const [row] = await orm.em.fork().getConnection().execute<{ count: string }[]>("select count(*) from timer where status = 'pending'");
      this.set(Number(row!.count));
    },
  });
  // Lateness is only observed when a timer fires; a stuck engine fires nothing. This says how
  // long the most overdue timer has been waiting (through the partial index timer_pending_due).
  new Gauge({
    name: 'incidentd_timers_overdue_seconds',
    help: 'How long the most overdue pending timer is past its due time (0 when none is due)',
    registers: [deps.registry],
    async collect() {
      const now = clock.now();
      const [row] = await orm.em.fork().getConnection().execute<{ due: Date | string }[]>("select due_at as due from timer where status = 'pending' and due_at <= ? order by due_at limit 1", [now]);
      this.set(row ? Math.max(0, (now.getTime() - new Date(row.due).getTime()) / 1000) : 0);
    },
  });


  function markFired(timer: Timer, outcomes: Outcome[], touched: number[]): void {
    timer.status = 'fired';
    timer.firedAt = clock.now();
    timer.firedBy = runnerId;
    outcomes.push({ kind: timer.kind, ok: true, lateSeconds: Math.max(0, (timer.firedAt.getTime() - timer.dueAt.getTime()) / 1000), incidentIds: [...(timer.incident ? [timer.incident.id] : []), ...touched] });
  }

  /** Counted (and announced) once committed: a rolled-back batch fires again and must not count twice. */
  function count(outcomes: Outcome[]): void {
    for (const outcome of outcomes) {
      fired.inc({ kind: outcome.kind, result: outcome.ok ? 'ok' : 'error' });
      if (outcome.lateSeconds !== undefined) lateness.observe({ kind: outcome.kind }, outcome.lateSeconds);
    }
    const incidentIds = [...new Set(outcomes.flatMap((outcome) => outcome.incidentIds))];
    if (incidentIds.length) deps.fired?.(incidentIds);
  }

  /**
   * The usual path: all claimed timers' handlers in one transaction, no savepoints (each
   * savepoint is two more round trips, which a busy daemon cannot afford). If any handler
   * throws, the whole batch rolls back and each timer is run on its own (isolated).
   */
  async function tick(): Promise<number> {
    const now = clock.now();
    const outcomes: Outcome[] = [];
    let claimed: string[] = [];
    try {
      const firedCount = await orm.em.fork().transactional(async (em) => {
        const due = await em.getConnection().execute<{ id: string }[]>(
          "select id from timer where status = 'pending' and due_at <= ? order by due_at limit ? for update skip locked",
          [now, deps.busy?.() ? BUSY_BATCH_SIZE : BATCH_SIZE],
          'all',
          em.getTransactionContext(),
        );
        claimed = due.map((row) => String(row.id));
        if (claimed.length === 0) return 0;
        const timers = await em.find(TimerSchema, { id: { $in: claimed } }, { orderBy: { dueAt: 'asc' } });
        for (const timer of timers) {
          const handler = handlers.get(timer.kind);
          if (!handler) throw new Error(`no handler for timer kind ${timer.kind}`);
          const touched: number[] = [];
          await handler({ em, timer, now: clock.now(), touched: (id) => touched.push(id) });
          markFired(timer, outcomes, touched);
        }
        await em.flush();
        return timers.length;
      });
      count(outcomes);
      return firedCount;
    } catch (error) {
      if (claimed.length === 0) throw error;
      logger.warn({ err: error, timers: claimed.length }, 'timer batch failed; running its timers one by one');
      for (const id of claimed) await runOne(id);
      return claimed.length;
    }
  }

  /** One timer in its own transaction; a failure is recorded and retried later. */
  async function runOne(id: string): Promise<void> {
    const outcomes: Outcome[] = [];
    await orm.em.fork().transactional(async (em) => {
      const [timer] = await em.find(TimerSchema, { id, status: 'pending' }, { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE });
      if (!timer) return; // another engine took it meanwhile
      try {
        const touched: number[] = [];
        await em.transactional(async (inner) => {
          const handler = handlers.get(timer.kind);
          if (!handler) throw new Error(`no handler for timer kind ${timer.kind}`);
          await handler({ em: inner, timer, now: clock.now(), touched: (id) => touched.push(id) });
        });
        markFired(timer, outcomes, touched);
      } catch (error) {
        timer.attempts += 1;
        timer.lastError = error instanceof Error ? error.message : String(error);
        if (timer.attempts >= MAX_ATTEMPTS) timer.status = 'failed';
        else timer.dueAt = new Date(clock.now().getTime() + RETRY_DELAY_MS);
        outcomes.push({ kind: timer.kind, ok: false, incidentIds: [] });
        logger[timer.status === 'failed' ? 'error' : 'warn']({ err: error, timerId: timer.id, kind: timer.kind, attempts: timer.attempts }, timer.status === 'failed' ? 'timer failed for good' : 'timer failed; retrying later');
      }
      await em.flush();
    });
    count(outcomes);
  }

  async function fireAllDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await tick();
      total += count;
      if (count === 0 || (count < BATCH_SIZE && !deps.busy?.())) return total;
    }
  }

  const loop = createPollingLoop({ name: 'timer engine', intervalMs: POLL_INTERVAL_MS, logger, work: fireAllDue });

  return {
    runnerId,
    register(kind: string, handler: TimerHandler): void {
      handlers.set(kind, handler);
      // Series of a known kind exist from the start at 0, so rate() and increase() in
      // dashboards and alerting rules also see the first timer of that kind fire.
      lateness.zero({ kind });
      for (const result of ['ok', 'error'] as const) fired.inc({ kind, result }, 0);
    },

    /** Adds a timer to the caller's unit of work (committed with the change that needs it). */
    schedule(em: EntityManager, timer: NewTimer): Timer {
      return em.create(TimerSchema, {
        kind: timer.kind,
        incident: timer.incidentId,
        dueAt: timer.dueAt,
        payload: timer.payload,
        status: 'pending',
        createdAt: clock.now(),
        attempts: 0,
      });
    },

    /**
     * Cancels the pending timers of an incident (of some kinds), in the caller's transaction.
     * Timers an engine has claimed right now are skipped, not waited for: the engine holds
     * them while it waits for the incident this caller has locked (a deadlock otherwise).
     * They fire, and their handlers find the state changed and do nothing.
     */
    async cancel(em: EntityManager, incidentId: number, kinds: string[]): Promise<number> {
      const rows = await em.getConnection().execute<{ id: string }[]>(
        `update timer set status = 'cancelled' where id in (
           select id from timer where incident_id = ? and status = 'pending' and kind in (${kinds.map(() => '?').join(', ')}) for update skip locked)
         returning id`,
        [incidentId, ...kinds],
        'all',
        em.getTransactionContext(),
      );
      return rows.length;
    },

    /** Fires everything due now; resolves with how many fired. For tests and the loop. */
    runDue: loop.runNow,
    start: loop.start,
    stop: loop.stop,
  };
}
