import type { MikroORM } from '@mikro-orm/postgresql';
import type { Namespace, Server, Socket } from 'socket.io';
import type { ConfigStore } from '../../config/config-store';
import type { EventBus } from '../../platform/event-bus';
import { NotFoundError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { hasAnyRole, type Principal } from '../auth/principal';
import type { SessionService } from '../auth/session-service';
import { canSeeIncident, isClientContact } from '../incidents/incident-access';
import { IncidentSchema } from '../incidents/incident-entities';
import { authenticateSocket, REAUTHENTICATE_MS } from '../live/staff-socket';
import type { UserService } from '../users/user-service';
import { BRIDGE_ROLES_ALLOWED, type BridgeService } from './bridge-service';

interface BridgeSocketData {
  principal: Principal;
  /** The incident (number) this socket has joined, if any. */
  incident?: number;
}

interface Presence {
  name: string;
  email: string;
  since: string;
}



/**
 * The `/bridge` socket.io namespace: the live side of the bridge page. A client joins
 * one incident (`bridge:join` with the last timeline id it has) and gets the state, then
 * `bridge:update` after every change and `bridge:presence` as people come and go.
 *
 * Authorization is checked on every event, not only at connect: each `bridge:join`
 * authenticates the socket again and checks the incident's visibility; each push is
 * sent only to sockets whose principal may still see the incident (a security hand-off
 * narrows an open bridge at once); a periodic check drops revoked sessions.
 * Presence is per daemon (kept in memory).
 */
export function attachBridgeSocket(
  io: Server,
  deps: { orm: MikroORM; users: UserService; sessions: SessionService; bus: EventBus; configStore: ConfigStore; logger: Logger; bridge: BridgeService; reauthenticateMs?: number },
): Namespace {
  const bridge = io.of('/bridge');
  const presence = new Map<number, Map<string, Presence>>();
  // Per incident: the push in progress; the next one waits for it (pushes go out in order).
  const pushing = new Map<number, Promise<void>>();
  const room = (number: number) => `bridge:${number}`;
  const dataOf = (socket: Socket) => socket.data as BridgeSocketData;
  const allowed = (principal: Principal | null): principal is Principal => !!principal && !isClientContact(principal) && hasAnyRole(principal, BRIDGE_ROLES_ALLOWED) && !principal.passwordChangeRequired;

  bridge.use(async (socket, next) => {
    try {
      const principal = await authenticateSocket(socket, deps);
      if (!principal) return next(new Error('unauthenticated'));
      if (!allowed(principal)) return next(new Error('forbidden: incident responders only'));
      dataOf(socket).principal = principal;
      next();
    } catch (error) {
      deps.logger.warn({ err: error }, 'bridge socket authentication failed');
      next(new Error('unavailable'));
    }
  });

  function publishPresence(number: number): void {
    const people = [...(presence.get(number)?.values() ?? [])];
    // One entry per person, however many tabs they have open.
    const unique = [...new Map(people.map((person) => [person.email, person])).values()];
    bridge.to(room(number)).emit('bridge:presence', { people: unique });
  }

  function leave(socket: Socket): void {
    const number = dataOf(socket).incident;
    if (number === undefined) return;
    presence.get(number)?.delete(socket.id);
    if (presence.get(number)?.size === 0) presence.delete(number);
    void socket.leave(room(number));
    dataOf(socket).incident = undefined;
    publishPresence(number);
  }

  bridge.on('connection', (socket) => {
    socket.on('bridge:join', async (request: unknown, ack?: (reply: unknown) => void) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      try {
        const { incident: idText, sinceEventId } = (request ?? {}) as { incident?: unknown; sinceEventId?: unknown };
        const principal = await authenticateSocket(socket, deps);
        if (!allowed(principal)) {
          reply({ ok: false, error: 'forbidden' });
          return void socket.disconnect(true);
        }
        dataOf(socket).principal = principal;
        const em = deps.orm.em.fork();
        const incident =
          typeof idText === 'string'
            ? await deps.bridge.loadVisible(em, idText, principal).catch((error: unknown) => {
                if (error instanceof NotFoundError) return null;
                throw error;
              })
            : null;
        if (!incident) return reply({ ok: false, error: 'not_found' });
        if (dataOf(socket).incident !== incident.number) leave(socket);
        const since = typeof sinceEventId === 'string' && /^\d+$/.test(sinceEventId) ? sinceEventId : undefined;
        const state = await deps.bridge.snapshot(em, incident, { sinceEventId: since });
        await socket.join(room(incident.number));
        dataOf(socket).incident = incident.number;
        if (!presence.has(incident.number)) presence.set(incident.number, new Map());
        presence.get(incident.number)!.set(socket.id, { name: principal.name, email: principal.email, since: new Date().toISOString() });
        reply({ ok: true, state });
        publishPresence(incident.number);
      } catch (error) {
        deps.logger.warn({ err: error }, 'bridge join failed');
        reply({ ok: false, error: 'unavailable' });
      }
    });
    socket.on('bridge:leave', () => leave(socket));
    socket.on('disconnect', () => leave(socket));
  });

  // After each committed change: the new state and the newest timeline entries (whatever
  // wrote them: staff, alerts, timers), queried once per change, sent to each socket that may
  // still see the incident. Pages keep the entries they have not seen yet, in id order, so an
  // entry whose transaction committed a moment late still arrives with the next push.
  const PUSHED_ENTRIES = 50;
  deps.bus.on('incident.changed', (event) => {
    if (!presence.has(event.number)) return;
    const previous = pushing.get(event.number) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const em = deps.orm.em.fork();
        const incident = await em.findOne(IncidentSchema, { id: event.incidentId });
        if (!incident) return;
        const sockets = await bridge.in(room(incident.number)).fetchSockets();
        if (sockets.length === 0) return;
        const state = await deps.bridge.snapshot(em, incident, { newest: PUSHED_ENTRIES });
        for (const socket of sockets) {
          const principal = (socket.data as BridgeSocketData).principal;
          if (canSeeIncident(principal, deps.configStore.current, incident)) socket.emit('bridge:update', state);
          else socket.emit('bridge:closed', { reason: 'you can no longer see this incident' });
        }
      })
      .catch((error) => deps.logger.warn({ err: error }, 'could not publish a bridge update'));
    pushing.set(event.number, next);
    void next.finally(() => {
      if (pushing.get(event.number) === next) pushing.delete(event.number);
    });
  });

  const recheckSocket = (socket: Socket) =>
    authenticateSocket(socket, deps)
      .then((principal) => {
        if (!allowed(principal)) return void socket.disconnect(true);
        dataOf(socket).principal = principal;
      })
      .catch((error) => deps.logger.warn({ err: error }, 'bridge socket re-authentication failed'));
  const recheck = setInterval(() => bridge.sockets.forEach(recheckSocket), deps.reauthenticateMs ?? REAUTHENTICATE_MS);
  recheck.unref();
  // Revoked access (see access-revocations.ts) ends that user's bridge connections at once.
  deps.bus.on('access.revoked', ({ userId }) => bridge.sockets.forEach((socket) => dataOf(socket).principal?.userId === userId && void recheckSocket(socket)));

  return bridge;
}
