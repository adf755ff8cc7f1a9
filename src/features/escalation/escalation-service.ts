import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Counter, type Registry } from 'prom-client';
import { parseDuration, type IncidentdConfig } from '../../config/config-schema';
import type { EscalationPolicy, NotifyTarget } from '../../config/escalation-config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ConflictError, ValidationError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { SYSTEM_ACTOR, type Actor } from '../audit/audit-service';
import type { Principal } from '../auth/principal';
import { IncidentSchema, type Incident } from '../incidents/incident-entities';
import { formatIncidentId, isOpen, type IncidentState } from '../incidents/incident-rules';
import type { IncidentObserver, IncidentService } from '../incidents/incident-service';
import { addTimelineEvent, type TimelineEntry } from '../incidents/incident-timeline';
import type { Outbox } from '../notifications/outbox';
import type { OncallService } from '../oncall/oncall-service';
import { calendarOf, type SlaHooks } from '../sla/sla-service';
import { isCountedInstant } from '../sla/business-time';
import type { SlaClock } from '../sla/sla-entities';
import type { TimerEngine } from '../timers/timer-engine';
import { usersWithRole } from '../users/users-with-role';
import { EscalationSchema } from './escalation-entities';

export type EscalationService = ReturnType<typeof createEscalationService>;

/** The first policy whose match fits the incident, else the one without match (INC-08). */
export function policyFor(config: IncidentdConfig, incident: Pick<Incident, 'clientId' | 'serviceIds' | 'severity'>): EscalationPolicy | undefined {
  const fits = (policy: EscalationPolicy) => {
    const match = policy.match;
    if (!match) return false;
    if (match.clients && !(incident.clientId && match.clients.includes(incident.clientId))) return false;
    if (match.services && !incident.serviceIds.some((id) => match.services!.includes(id))) return false;
    if (match.severities && !match.severities.includes(incident.severity as 1 | 2 | 3 | 4)) return false;
    return true;
  };
  return config.escalationPolicies.find(fits) ?? config.escalationPolicies.find((policy) => !policy.match);
}

/**
 * Escalation (INC-08, INC-10): policies of timed steps that page people until someone
 * acknowledges; manual technical and managerial escalation; SLA warnings and breaches.
 * Every page goes to the outbox in the transaction that decided it.
 */
export function createEscalationService(deps: {
  orm: MikroORM;
  clock: Clock;
  configStore: ConfigStore;
  timers: TimerEngine;
  outbox: Outbox;
  oncall: OncallService;
  incidents: IncidentService;
  logger: Logger;
  registry: Registry;
}) {
  const { clock, configStore, timers, outbox } = deps;
  const escalations = new Counter({ name: 'incidentd_escalations_total', help: 'Escalation steps carried out, by policy and step (manual ones as "manual")', labelNames: ['policy', 'step'] as const, registers: [deps.registry] });

  /** People (emails) for the targets, and a description for the timeline. */
  async function resolveTargets(em: EntityManager, incident: Incident, targets: NotifyTarget[], at: Date): Promise<{ emails: string[]; described: string[] }> {
    const config = configStore.current;
    const emails: string[] = [];
    const described: string[] = [];
    for (const target of targets) {
      if ('team' in target) {
        const members = config.teams.find((team) => team.id === target.team)?.members ?? [];
        emails.push(...members);
        described.push(`team ${target.team} (${members.join(', ') || 'no members'})`);
      } else if ('user' in target) {
        emails.push(target.user);
        described.push(target.user);
      } else if ('oncall' in target) {
        const person = await deps.oncall.onCall(em, target.oncall, at);
        emails.push(person);
        described.push(`on call in ${target.oncall} (${person})`);
      } else if ('accountManager' in target) {
        const manager = config.clients.find((client) => client.id === incident.clientId)?.accountManager;
        if (manager) {
          emails.push(manager);
          described.push(`account manager (${manager})`);
        }
      } else {
        const holders = await usersWithRole(em, target.role);
        emails.push(...holders);
        described.push(`${target.role} (${holders.join(', ') || 'nobody holds the role'})`);
      }
    }
    return { emails: [...new Set(emails.map((email) => email.toLowerCase()))], described };
  }

  /** What a page says: enough to act on, nothing internal beyond the staff view. */
  function pageText(incident: Incident, headline: string) {
    const id = formatIncidentId(incident.number);
    const url = `${configStore.current.server.publicUrl}/api/v1/incidents/${id}`;
    return {
      subject: `[${incident.priority} Sev${incident.severity}] ${id} ${incident.title}${incident.clientId ? ` (${incident.clientId})` : ''}`,
      body: `${headline}\n\n${id}: ${incident.title}\nClient: ${incident.clientId ?? 'unknown (triage)'}\nSeverity ${incident.severity}, priority ${incident.priority}, state ${incident.state}\n${url}`,
    };
  }

  async function page(em: EntityManager, incident: Incident, targets: NotifyTarget[], kind: string, eventKey: string, headline: string, at: Date): Promise<string[]> {
    const { emails, described } = await resolveTargets(em, incident, targets, at);
    await outbox.enqueue(em, { kind, incidentId: incident.id, recipients: emails, eventKey, ...pageText(incident, headline) });
    return described;
  }

  function stepApplies(policy: EscalationPolicy, stepIndex: number, incident: Incident, at: Date): string | null {
    const when = policy.steps[stepIndex]!.when;
    if (when.maxSeverity !== undefined && incident.severity > when.maxSeverity) return `only for severity ${when.maxSeverity} or worse`;
    if (when.hours !== 'any') {
      const client = configStore.current.clients.find((candidate) => candidate.id === incident.clientId);
      const inside = client ? isCountedInstant(calendarOf(client, 'business'), at) : true;
      if (when.hours === 'business' && !inside) return 'only inside business hours';
      if (when.hours === 'outside_business' && inside) return 'only outside business hours';
    }
    return null;
  }

  async function scheduleStep(em: EntityManager, incident: Incident, policy: EscalationPolicy, stepIndex: number, round: number, from: Date): Promise<void> {
    const after = parseDuration(policy.steps[stepIndex]!.after) ?? 0;
    timers.schedule(em, { kind: 'escalation.step', incidentId: incident.id, dueAt: new Date(from.getTime() + after), payload: { policy: policy.id, step: stepIndex, round } });
  }

  async function start(em: EntityManager, incident: Incident, now: Date): Promise<void> {
    const policy = policyFor(configStore.current, incident);
    if (!policy) return;
    const existing = await em.findOne(EscalationSchema, { incident });
    if (existing) {
      existing.policyId = policy.id;
      existing.stepIndex = 0;
      existing.round = 0;
      existing.status = 'active';
      existing.updatedAt = now;
    } else {
      em.create(EscalationSchema, { incident, policyId: policy.id, stepIndex: 0, round: 0, status: 'active', startedAt: now, updatedAt: now });
    }
    await timers.cancel(em, incident.id, ['escalation.step']);
    await scheduleStep(em, incident, policy, 0, 0, now);
  }

  async function stop(em: EntityManager, incident: Incident, reason: string, now: Date): Promise<void> {
    const escalation = await em.findOne(EscalationSchema, { incident });
    if (!escalation || escalation.status !== 'active') return;
    escalation.status = 'stopped';
    escalation.updatedAt = now;
    await timers.cancel(em, incident.id, ['escalation.step']);
    addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'escalation', message: `escalation stopped: ${reason}` }, now);
  }

  const observer: IncidentObserver = {
    async created(em, incident, now) {
      // Alerts expected during a change page nobody while its window is open.
      if (!incident.expectedDuringChange) await start(em, incident, now);
    },
    async releasedFromChange(em, incident, now) {
      const running = await em.findOne(EscalationSchema, { incident, status: 'active' });
      if (isOpen(incident.state as IncidentState) && !incident.acknowledgedAt && !running) await start(em, incident, now);
    },
    async responded(em, incident, now) {
      if (incident.acknowledgedAt) await stop(em, incident, `acknowledged by ${incident.acknowledgedBy}`, now);
    },
    async stateChanged(em, incident, from, to, now) {
      if (!isOpen(to)) await stop(em, incident, `incident ${to}`, now);
      // Re-opened: page again, unless its alerts are (still) expected during a change.
      else if (from === 'resolved' && to === 'investigating' && !incident.expectedDuringChange) await start(em, incident, now);
    },
  };

  timers.register('escalation.step', async ({ em, timer, now }) => {
    const incident = timer.incident ? await em.findOne(IncidentSchema, { id: timer.incident.id }) : null;
    const escalation = incident ? await em.findOne(EscalationSchema, { incident }) : null;
    const { policy: policyId, step, round } = timer.payload as { policy: string; step: number; round: number };
    // A timer from before a restart of the escalation (re-open, policy change) is stale.
    if (!incident || !escalation || escalation.status !== 'active' || escalation.stepIndex !== step || escalation.round !== round) return;
    if (incident.acknowledgedAt || !isOpen(incident.state as IncidentState)) return;
    const policy = configStore.current.escalationPolicies.find((candidate) => candidate.id === policyId);
    if (!policy || !policy.steps[step]) {
      escalation.status = 'exhausted';
      return;
    }
    const skipped = stepApplies(policy, step, incident, now);
    const label = `step ${step + 1}${round > 0 ? ` (round ${round + 1})` : ''} of ${policy.id}`;
    if (skipped) {
      addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'escalation', message: `${label} skipped: ${skipped}` }, now);
    } else {
      const described = await page(em, incident, policy.steps[step]!.notify, 'escalation.page', `escalation:${incident.id}:${policy.id}:${round}:${step}`, `Not acknowledged yet: ${label}.`, now);
      addTimelineEvent(em, incident, SYSTEM_ACTOR, { type: 'escalation', message: `${label}: paged ${described.join('; ')}`, data: { policy: policy.id, step, round } }, now);
      escalations.inc({ policy: policy.id, step: String(step + 1) });
    }
    // The next step counts from this step's due time, so delays do not add up.
    const next = step + 1 < policy.steps.length ? { step: step + 1, round } : round < policy.repeat ? { step: 0, round: round + 1 } : null;
    escalation.updatedAt = now;
    if (!next) {
      escalation.status = 'exhausted';
      return;
    }
    escalation.stepIndex = next.step;
    escalation.round = next.round;
    await scheduleStep(em, incident, policy, next.step, next.round, timer.dueAt);
  });

  /** Technical escalation: hand the incident to a team, by default the next tier (INC-08). */
  async function technical(em: EntityManager, incident: Incident, input: { team?: string; reason: string; eventKey: string }, now: Date): Promise<TimelineEntry> {
    const config = configStore.current;
    let team = input.team;
    if (!team) {
      const tiers = config.escalation.tiers;
      const current = incident.assignedTeam ? tiers.indexOf(incident.assignedTeam) : -1;
      team = tiers[current + 1];
      if (!team) throw new ConflictError(tiers.length ? `already at the last tier (${tiers.at(-1)}); name a team` : 'no escalation tiers are configured (escalation.tiers); name a team');
    }
    if (!config.teams.some((candidate) => candidate.id === team)) throw new ValidationError('unknown team', [{ path: 'team', message: `no team "${team}"` }]);
    const from = incident.assignedTeam;
    incident.assignedTeam = team;
    incident.firstAssignedAt ??= now;
    const described = await page(em, incident, [{ team }], 'escalation.technical', input.eventKey, `Escalated to ${team}: ${input.reason}`, now);
    escalations.inc({ policy: 'manual', step: 'technical' });
    return { type: 'escalation', message: `technical escalation${from ? ` from ${from}` : ''} to ${team}: ${input.reason}; paged ${described.join('; ')}`, data: { kind: 'technical', from, to: team, reason: input.reason } };
  }

  /** Managerial escalation: the incident managers and the client's account manager (INC-08, INC-10). */
  async function managerial(em: EntityManager, incident: Incident, input: { reason: string; eventKey: string }, now: Date): Promise<TimelineEntry> {
    const described = await page(em, incident, [{ role: 'incident_manager' }, { accountManager: true }], 'escalation.managerial', input.eventKey, `Managerial escalation: ${input.reason}`, now);
    escalations.inc({ policy: 'manual', step: 'managerial' });
    return { type: 'escalation', message: `managerial escalation: ${input.reason}; paged ${described.join('; ')}`, data: { kind: 'managerial', reason: input.reason } };
  }

  const slaHooks: SlaHooks = {
    async warned(em, incident, clock: SlaClock, fraction, now) {
      const team = incident.assignedTeam ?? configStore.current.escalation.tiers[0];
      const targets: NotifyTarget[] = team ? [{ team }] : [{ role: 'incident_manager' }];
      if (fraction >= 0.9 && team) targets.push({ role: 'incident_manager' });
      await page(em, incident, targets, 'sla.warning', `sla-warning:${incident.id}:${clock.kind}:${fraction}`, `${clock.kind} SLA at ${Math.round(fraction * 100)}% (due ${clock.dueAt?.toISOString()}).`, now);
    },
    async breached(em, incident, clock: SlaClock, now) {
      const reason = `${clock.kind} SLA breached`;
      const entries: TimelineEntry[] = [];
      try {
        entries.push(await technical(em, incident, { reason, eventKey: `sla-breach:${incident.id}:${clock.kind}:technical` }, now));
      } catch (error) {
        // No next tier: the managerial escalation below still happens.
        deps.logger.info({ incident: incident.number, reason: (error as Error).message }, 'no technical escalation on SLA breach');
      }
      entries.push(await managerial(em, incident, { reason, eventKey: `sla-breach:${incident.id}:${clock.kind}:managerial` }, now));
      for (const entry of entries) addTimelineEvent(em, incident, SYSTEM_ACTOR, entry, now);
    },
  };

  return {
    observer,
    slaHooks,
    /** People (e-mail addresses) behind escalation-style targets, for other features' reminders. */
    resolveTargets,
    /** POST /incidents/{id}/escalate: technical (next tier or a named team) or managerial, with a reason. */
    escalate(idText: string, principal: Principal, actor: Actor, input: { type: 'technical' | 'managerial'; team?: string; reason: string; requestId?: string }) {
      return deps.incidents.update(idText, principal, actor, { action: `incident.escalated_${input.type}`, requestId: input.requestId }, async (incident, em, now) => {
        if (!isOpen(incident.state as IncidentState)) throw new ConflictError(`cannot escalate a ${incident.state} incident`);
        const eventKey = `manual:${incident.id}:${input.type}:${now.getTime()}:${actor.name}`;
        return [input.type === 'technical' ? await technical(em, incident, { ...input, eventKey }, now) : await managerial(em, incident, { ...input, eventKey }, now)];
      });
    },
  };
}
