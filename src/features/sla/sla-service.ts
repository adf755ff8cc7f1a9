import type { EntityManager } from '@mikro-orm/postgresql';
import { Counter, type Registry } from 'prom-client';
import { parseDuration, type ClientConfig } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { SYSTEM_ACTOR } from '../audit/audit-service';
import { IncidentSchema, type Incident } from '../incidents/incident-entities';
import type { IncidentObserver } from '../incidents/incident-service';
import { addTimelineEvent } from '../incidents/incident-timeline';
import type { TimerEngine } from '../timers/timer-engine';
import { addCountedMs, countedMs, type SlaCalendar } from './business-time';
import { SlaClockSchema, type SlaClock } from './sla-entities';

export type SlaKind = 'response' | 'resolution';
const TIMER_KINDS = ['sla.warning', 'sla.breach'];

export interface SlaHooks {
  /** Called inside the transaction when a warning fires: who to tell. */
  warned(em: EntityManager, incident: Incident, clock: SlaClock, fraction: number, now: Date): Promise<void>;
  /** Called inside the transaction when a target is breached: escalate (INC-08). */
  breached(em: EntityManager, incident: Incident, clock: SlaClock, now: Date): Promise<void>;
}

/** The calendar an SLA target runs on: 24x7, or the client's business hours in its zone. */
export function calendarOf(client: ClientConfig, hours: '24x7' | 'business'): SlaCalendar {
  if (hours === '24x7' || !client.businessHours) return '24x7';
  return { timezone: client.timezone, days: client.businessHours.days, start: client.businessHours.start, end: client.businessHours.end, holidays: client.businessHours.holidays };
}

export type SlaService = ReturnType<typeof createSlaService>;

/**
 * SLA clocks (INC-07): response (logged -> first acknowledgement or assignment) and
 * resolution (logged -> resolved), per client contract and severity, in 24x7 or business
 * time. Clocks pause while the incident waits on the client. Warnings and the breach are
 * durable timers; a breach is recorded and escalates (INC-08).
 */
export function createSlaService(deps: { clock: Clock; configStore: ConfigStore; timers: TimerEngine; registry: Registry; hooks: SlaHooks }) {
  const breaches = new Counter({
    name: 'incidentd_sla_breaches_total',
    help: 'SLA targets breached, by client, severity and kind (response, resolution)',
    labelNames: ['client', 'severity', 'kind'] as const,
    registers: [deps.registry],
  });

  function calendarFor(incident: Incident, clock: SlaClock): SlaCalendar {
    const client = deps.configStore.current.clients.find((candidate) => candidate.id === incident.clientId);
    return client ? calendarOf(client, clock.calendar as '24x7' | 'business') : '24x7';
  }

  /** Consumed time now, including the running part. */
  function consumedAt(incident: Incident, clock: SlaClock, now: Date): number {
    if (!clock.runningSince) return clock.consumedMs;
    return clock.consumedMs + countedMs(calendarFor(incident, clock), clock.runningSince, now);
  }

  /** (Re)schedules warning and breach timers of a running clock. */
  function schedule(em: EntityManager, incident: Incident, clock: SlaClock): void {
    if (!clock.runningSince) return;
    const calendar = calendarFor(incident, clock);
    const at = (targetFraction: number) => addCountedMs(calendar, clock.runningSince!, Math.max(0, targetFraction * clock.targetMs - clock.consumedMs));
    clock.dueAt = at(1);
    for (const fraction of deps.configStore.current.escalation.slaWarnAt) {
      if (clock.warned.includes(String(fraction)) || fraction * clock.targetMs <= clock.consumedMs) continue;
      deps.timers.schedule(em, { kind: 'sla.warning', incidentId: incident.id, dueAt: at(fraction), payload: { clock: clock.kind, fraction } });
    }
    if (!clock.outcome) deps.timers.schedule(em, { kind: 'sla.breach', incidentId: incident.id, dueAt: clock.dueAt, payload: { clock: clock.kind } });
  }

  async function clocksOf(em: EntityManager, incident: Incident): Promise<SlaClock[]> {
    return em.find(SlaClockSchema, { incident }, { orderBy: { id: 'asc' } });
  }

  async function stop(em: EntityManager, incident: Incident, kind: SlaKind, now: Date): Promise<void> {
    const clock = (await clocksOf(em, incident)).find((candidate) => candidate.kind === kind);
    if (!clock || clock.stoppedAt) return;
    clock.consumedMs = consumedAt(incident, clock, now);
    clock.runningSince = null;
    clock.stoppedAt = now;
    clock.outcome ??= clock.consumedMs <= clock.targetMs ? 'met' : 'breached';
    await reschedule(em, incident);
    addTimelineEvent(em, incident, SYSTEM_ACTOR, {
      type: 'sla',
      message: `${kind} SLA ${clock.outcome}: ${formatMs(clock.consumedMs)} of ${formatMs(clock.targetMs)} (${clock.calendar === 'business' ? 'business time' : '24x7'})`,
      data: { clock: kind, outcome: clock.outcome, consumedMs: clock.consumedMs, targetMs: clock.targetMs },
    }, now);
  }

  /** Cancels and re-creates the timers of every running clock (after a pause, a stop, a restart). */
  async function reschedule(em: EntityManager, incident: Incident): Promise<void> {
    await deps.timers.cancel(em, incident.id, TIMER_KINDS);
    for (const clock of await clocksOf(em, incident)) schedule(em, incident, clock);
  }

  async function pauseAll(em: EntityManager, incident: Incident, now: Date): Promise<void> {
    for (const clock of await clocksOf(em, incident)) {
      if (!clock.runningSince) continue;
      clock.consumedMs = consumedAt(incident, clock, now);
      clock.runningSince = null;
      clock.dueAt = null;
    }
    await deps.timers.cancel(em, incident.id, TIMER_KINDS);
  }

  async function resume(em: EntityManager, incident: Incident, kinds: SlaKind[], now: Date): Promise<void> {
    for (const clock of await clocksOf(em, incident)) {
      if (!kinds.includes(clock.kind as SlaKind) || clock.runningSince) continue;
      if (clock.stoppedAt && clock.kind === 'resolution') {
        // Re-opened: the resolution clock continues where it stopped.
        clock.stoppedAt = null;
        if (clock.outcome === 'met') clock.outcome = null;
      }
      if (clock.stoppedAt) continue;
      clock.runningSince = now;
    }
    await reschedule(em, incident);
  }

  const observer: IncidentObserver = {
    async created(em, incident) {
      const client = deps.configStore.current.clients.find((candidate) => candidate.id === incident.clientId);
      // Triage-queue incidents have no contract yet: no clocks until a client is known.
      if (!client) return;
      const target = client.sla[`sev${incident.severity as 1 | 2 | 3 | 4}`];
      for (const [kind, duration] of [['response', target.respond], ['resolution', target.resolve]] as const) {
        const clock = em.create(SlaClockSchema, {
          incident,
          kind,
          targetMs: parseDuration(duration)!,
          calendar: target.hours,
          startedAt: incident.createdAt,
          consumedMs: 0,
          // Waiting on the client, or alerts expected during a change: the clocks wait too.
          runningSince: incident.awaitingClient || incident.expectedDuringChange ? null : incident.createdAt,
          warned: [],
        });
        schedule(em, incident, clock);
      }
    },
    async responded(em, incident, now) {
      await stop(em, incident, 'response', now);
    },
    async stateChanged(em, incident, from, to, now) {
      if (to === 'resolved' || to === 'cancelled' || to === 'closed') {
        await stop(em, incident, 'response', now);
        await stop(em, incident, 'resolution', now);
      } else if (from === 'resolved' && to === 'investigating' && !incident.awaitingClient && !incident.expectedDuringChange) {
        await resume(em, incident, ['resolution'], now);
      }
    },
    async awaitingClientChanged(em, incident, waiting, now) {
      if (waiting) await pauseAll(em, incident, now);
      else if (!incident.expectedDuringChange) await resume(em, incident, ['response', 'resolution'], now);
    },
    async releasedFromChange(em, incident, now) {
      if (!incident.awaitingClient) await resume(em, incident, ['response', 'resolution'], now);
    },
  };

  deps.timers.register('sla.warning', async ({ em, timer, now }) => {
    const incident = timer.incident ? await em.findOne(IncidentSchema, { id: timer.incident.id }) : null;
    const clock = incident ? (await clocksOf(em, incident)).find((candidate) => candidate.kind === timer.payload.clock) : undefined;
    const fraction = Number(timer.payload.fraction);
    if (!incident || !clock || !clock.runningSince || clock.warned.includes(String(fraction))) return;
    clock.warned = [...clock.warned, String(fraction)];
    addTimelineEvent(em, incident, SYSTEM_ACTOR, {
      type: 'sla',
      message: `${clock.kind} SLA at ${Math.round(fraction * 100)}%: due ${clock.dueAt?.toISOString()}`,
      data: { clock: clock.kind, fraction, dueAt: clock.dueAt?.toISOString() ?? null },
    }, now);
    await deps.hooks.warned(em, incident, clock, fraction, now);
  });

  deps.timers.register('sla.breach', async ({ em, timer, now }) => {
    const incident = timer.incident ? await em.findOne(IncidentSchema, { id: timer.incident.id }) : null;
    const clock = incident ? (await clocksOf(em, incident)).find((candidate) => candidate.kind === timer.payload.clock) : undefined;
    if (!incident || !clock || !clock.runningSince || clock.outcome) return;
    clock.outcome = 'breached';
    clock.breachedAt = now;
    breaches.inc({ client: incident.clientId ?? 'triage', severity: String(incident.severity), kind: clock.kind });
    addTimelineEvent(em, incident, SYSTEM_ACTOR, {
      type: 'sla',
      message: `${clock.kind} SLA breached: target ${formatMs(clock.targetMs)} (${clock.calendar === 'business' ? 'business time' : '24x7'}) passed at ${clock.dueAt?.toISOString()}`,
      data: { clock: clock.kind, outcome: 'breached' },
    }, now);
    await deps.hooks.breached(em, incident, clock, now);
  });

  return {
    observer,
    /** The clocks as users see them on the incident. */
    async present(em: EntityManager, incident: Incident, now: Date) {
      return (await clocksOf(em, incident)).map((clock) => {
        const consumed = consumedAt(incident, clock, now);
        return {
          kind: clock.kind,
          target: formatMs(clock.targetMs),
          targetMs: clock.targetMs,
          calendar: clock.calendar,
          startedAt: clock.startedAt.toISOString(),
          dueAt: clock.dueAt?.toISOString() ?? null,
          consumedMs: consumed,
          remainingMs: Math.max(0, clock.targetMs - consumed),
          state: clock.stoppedAt ? 'stopped' : clock.runningSince ? 'running' : 'paused',
          outcome: clock.outcome ?? (consumed > clock.targetMs ? 'breached' : null),
          breachedAt: clock.breachedAt?.toISOString() ?? null,
          stoppedAt: clock.stoppedAt?.toISOString() ?? null,
        };
      });
    },
  };
}

export function formatMs(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest ? `${hours}h${rest}m` : `${hours}h`;
  const days = Math.floor(hours / 24);
  return `${days}d${hours % 24 ? `${hours % 24}h` : ''}`;
}
