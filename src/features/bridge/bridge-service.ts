import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors';
import { requirePlausibleInstants } from '../../platform/plausible-time';
import type { Actor } from '../audit/audit-service';
import type { Principal } from '../auth/principal';
import type { Role } from '../auth/roles';
import { canSeeIncident } from '../incidents/incident-access';
import type { Incident, IncidentEvent } from '../incidents/incident-entities';
import { IncidentEventSchema, IncidentSchema } from '../incidents/incident-entities';
import { presentEvent, presentIncident } from '../incidents/incident-presenter';
import { formatIncidentId, isOpen, parseIncidentId, type IncidentState } from '../incidents/incident-rules';
import type { IncidentDetailExtension } from '../incidents/incident-routes';
import type { IncidentService } from '../incidents/incident-service';
import { UserSchema } from '../users/user-entities';
import { IncidentRoleSchema, IncidentTaskSchema, type IncidentRole, type IncidentTask } from './bridge-entities';

/** Who works a major incident on the bridge (and may open it, over HTTP or the socket). */
export const BRIDGE_ROLES_ALLOWED: readonly Role[] = ['admin', 'service_desk', 'tier2', 'tier3', 'incident_manager', 'account_manager'];

/** The roles of a major incident (INC-11); anything else is a custom role, written `custom:<name>`. */
export const BRIDGE_ROLES = ['commander', 'technical_lead', 'communications_lead', 'scribe', 'account_manager'] as const;
export const TASK_STATUSES = ['open', 'in_progress', 'done', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const CUSTOM_ROLE = /^custom:[a-z0-9][a-z0-9 _-]{0,40}$/;

export function isBridgeRole(role: string): boolean {
  return (BRIDGE_ROLES as readonly string[]).includes(role) || CUSTOM_ROLE.test(role);
}

export function presentRole(role: IncidentRole) {
  return { role: role.role, email: role.personEmail, name: role.personName, assignedAt: role.assignedAt.toISOString(), assignedBy: role.assignedBy };
}

export function presentTask(task: IncidentTask) {
  return {
    id: task.id,
    title: task.title,
    owner: task.ownerEmail,
    status: task.status,
    dueAt: task.dueAt?.toISOString() ?? null,
    createdBy: task.createdBy,
    updatedAt: task.updatedAt.toISOString(),
    version: task.version,
  };
}

export type BridgeService = ReturnType<typeof createBridgeService>;

/**
 * The major-incident bridge (INC-11, INC-10): roles with hand-over, tasks, the conference
 * URL and the declaration of a major incident. Every change goes through the incident's
 * own change path (lock, timeline, audit, live event), so the bridge, the API and the
 * timeline always agree.
 */
export function createBridgeService(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; incidents: IncidentService; extensions: IncidentDetailExtension[] }) {
  const { incidents, configStore } = deps;

  async function person(em: EntityManager, email: string): Promise<{ email: string; name: string }> {
    const user = await em.findOne(UserSchema, { email: email.toLowerCase() });
    if (!user || user.disabledAt) throw new ValidationError('unknown person', [{ path: 'email', message: `no active user "${email}"` }]);
    return { email: user.email, name: user.name };
  }

  /** Everything the bridge shows, for a first load and for catching up after a dropped connection. Other features add their parts (SLA clocks, client communication) through `extensions`. */
  async function snapshot(em: EntityManager, incident: Incident, timeline: { sinceEventId?: string; newest?: number } = {}) {
    const [roles, tasks, newestFirst] = await Promise.all([
      em.find(IncidentRoleSchema, { incident, releasedAt: null }, { orderBy: { id: 'asc' } }),
      em.find(IncidentTaskSchema, { incident }, { orderBy: { id: 'asc' } }),
      // The newest entries (all since an id, at most 2000): a long incident shows its latest.
      em.find(IncidentEventSchema, timeline.sinceEventId ? { incident, id: { $gt: timeline.sinceEventId } } : { incident }, { orderBy: { id: 'desc' }, limit: timeline.newest ?? 2000 }),
    ]);
    const events = newestFirst.reverse();
    const extras: Record<string, unknown> = {};
    for (const extension of deps.extensions) Object.assign(extras, await extension(em, incident));
    const client = configStore.current.clients.find((candidate) => candidate.id === incident.clientId);
    return {
      incident: presentIncident(incident),
      ...extras,
      roles: roles.map(presentRole),
      // The client's account manager belongs on every major incident (INC-10), assigned or not.
      accountManagers: client ? [{ client: client.id, clientName: client.name, email: client.accountManager }] : [],
      tasks: tasks.map(presentTask),
      events: events.map((event: IncidentEvent) => presentEvent(event)),
    };
  }

  return {
    snapshot,

    /** The incident, if this principal may see it (else 404, like the rest of the API). */
    async loadVisible(em: EntityManager, idText: string, principal: Principal): Promise<Incident> {
      const number = parseIncidentId(idText);
      const incident = number === undefined ? null : await em.findOne(IncidentSchema, { number });
      if (!incident || !canSeeIncident(principal, configStore.current, incident)) throw new NotFoundError(`no incident ${idText}`);
      return incident;
    },

    declareMajor(idText: string, principal: Principal, actor: Actor, input: { reason: string; requestId?: string }) {
      return incidents.update(idText, principal, actor, { action: 'incident.major_declared', requestId: input.requestId }, (incident, _em, now) => {
        if (incident.major) throw new ConflictError(`${formatIncidentId(incident.number)} is already a major incident`);
        if (!isOpen(incident.state as IncidentState)) throw new ConflictError(`a ${incident.state} incident cannot become a major incident`);
        incident.major = true;
        incident.majorDeclaredAt = now;
        return [{ type: 'major', message: `declared a major incident: ${input.reason}`, data: { reason: input.reason } }];
      });
    },

    /** Assigns a role; whoever held it hands it over (INC-11 "assign/hand over with one action"). */
    assignRole(idText: string, principal: Principal, actor: Actor, input: { role: string; email: string; requestId?: string }) {
      if (!isBridgeRole(input.role)) throw new ValidationError('unknown role', [{ path: 'role', message: `expected one of ${BRIDGE_ROLES.join(', ')} or custom:<name>` }]);
      return incidents.update(idText, principal, actor, { action: 'incident.role_assigned', requestId: input.requestId }, async (incident, em, now) => {
        const next = await person(em, input.email);
        const current = await em.findOne(IncidentRoleSchema, { incident, role: input.role, releasedAt: null });
        if (current?.personEmail === next.email) throw new ConflictError(`${next.name} already holds ${input.role}`);
        if (current) {
          current.releasedAt = now;
          // The partial unique index allows one current holder: release before the new row.
          await em.flush();
        }
        em.create(IncidentRoleSchema, { incident, role: input.role, personEmail: next.email, personName: next.name, assignedAt: now, assignedBy: actor.name });
        const label = input.role.replace(/^custom:/, '').replace(/_/g, ' ');
        return [{ type: 'role', message: current ? `${label}: handed over from ${current.personName} to ${next.name}` : `${label}: ${next.name}`, data: { role: input.role, from: current?.personEmail ?? null, to: next.email } }];
      });
    },

    releaseRole(idText: string, principal: Principal, actor: Actor, input: { role: string; requestId?: string }) {
      return incidents.update(idText, principal, actor, { action: 'incident.role_released', requestId: input.requestId }, async (incident, em, now) => {
        const current = await em.findOne(IncidentRoleSchema, { incident, role: input.role, releasedAt: null });
        if (!current) throw new NotFoundError(`nobody holds ${input.role}`);
        current.releasedAt = now;
        return [{ type: 'role', message: `${input.role.replace(/^custom:/, '').replace(/_/g, ' ')}: ${current.personName} stepped down`, data: { role: input.role, from: current.personEmail, to: null } }];
      });
    },

    setConferenceUrl(idText: string, principal: Principal, actor: Actor, input: { url: string | null; requestId?: string }) {
      return incidents.update(idText, principal, actor, { action: 'incident.conference_set', requestId: input.requestId }, (incident) => {
        incident.conferenceUrl = input.url;
        return [{ type: 'bridge', message: input.url ? `conference bridge: ${input.url}` : 'conference bridge removed', data: { url: input.url } }];
      });
    },

    async addTask(idText: string, principal: Principal, actor: Actor, input: { title: string; owner?: string; dueAt?: Date; requestId?: string }): Promise<IncidentTask> {
      let task: IncidentTask | null = null;
      await incidents.update(idText, principal, actor, { action: 'incident.task_added', requestId: input.requestId }, async (incident, em, now) => {
        requirePlausibleInstants(now, 'planned', { dueAt: input.dueAt });
        const owner = input.owner ? await person(em, input.owner) : null;
        task = em.create(IncidentTaskSchema, { incident, title: input.title, ownerEmail: owner?.email ?? null, status: 'open', dueAt: input.dueAt ?? null, createdAt: now, createdBy: actor.name, updatedAt: now });
        return [{ type: 'task', message: `task: ${input.title}${owner ? ` (owner ${owner.name})` : ''}${input.dueAt ? `, due ${input.dueAt.toISOString()}` : ''}`, data: { title: input.title, owner: owner?.email ?? null } }];
      });
      return task!;
    },

    /** Edits a task; `expectedVersion` is required so two people never overwrite each other silently. */
    async updateTask(idText: string, taskId: number, principal: Principal, actor: Actor, input: { expectedVersion: number; title?: string; owner?: string | null; status?: TaskStatus; dueAt?: Date | null; requestId?: string }): Promise<IncidentTask> {
      let task: IncidentTask | null = null;
      await incidents.update(idText, principal, actor, { action: 'incident.task_updated', requestId: input.requestId }, async (incident, em, now) => {
        const found = await em.findOne(IncidentTaskSchema, { id: taskId, incident });
        if (!found) throw new NotFoundError(`no task ${taskId} on ${formatIncidentId(incident.number)}`);
        if (found.version !== input.expectedVersion) throw new ConflictError(`someone changed the task since you loaded it (version ${found.version}, you had ${input.expectedVersion})`, { current: presentTask(found) });
        const changes: string[] = [];
        if (input.title !== undefined && input.title !== found.title) {
          found.title = input.title;
          changes.push(`renamed "${input.title}"`);
        }
        if (input.owner !== undefined) {
          const owner = input.owner ? await person(em, input.owner) : null;
          found.ownerEmail = owner?.email ?? null;
          changes.push(owner ? `owner ${owner.name}` : 'no owner');
        }
        if (input.status !== undefined && input.status !== found.status) {
          found.status = input.status;
          changes.push(input.status.replace('_', ' '));
        }
        if (input.dueAt !== undefined) {
          requirePlausibleInstants(now, 'planned', { dueAt: input.dueAt });
          found.dueAt = input.dueAt;
          changes.push(input.dueAt ? `due ${input.dueAt.toISOString()}` : 'no due time');
        }
        found.updatedAt = now;
        task = found;
        return [{ type: 'task', message: `task "${found.title}": ${changes.join(', ') || 'unchanged'}`, data: { taskId, status: found.status } }];
      });
      return task!;
    },
  };
}
