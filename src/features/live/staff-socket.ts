import type { Server as HttpServer } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { parse as parseCookie } from 'cookie';
import { Server, type Namespace, type Socket } from 'socket.io';
import type { ConfigStore } from '../../config/config-store';
import type { EventBus } from '../../platform/event-bus';
import type { Logger } from '../../platform/logger';
import type { Principal } from '../auth/principal';
import { SESSION_COOKIE, type SessionService } from '../auth/session-service';
import { canSeeIncident, canSeeSecurityIncidents, isClientContact } from '../incidents/incident-access';
import { IncidentSchema } from '../incidents/incident-entities';
import { formatIncidentId, parseIncidentId } from '../incidents/incident-rules';
import type { UserService } from '../users/user-service';

interface StaffSocketData {
  principal: Principal;
}

/** Sockets live for hours: who is behind one is checked again this often. */
export const REAUTHENTICATE_MS = 60_000;

/**
 * The `/staff` socket.io namespace: authenticated staff receive incident events live.
 * Rooms: `staff` (every non-security incident), `security` (security incidents, for
 * admins and the security team), `incident:<number>` and `client:<id>` on request.
 */
export function attachStaffSocket(
  io: Server,
  deps: { orm: MikroORM; users: UserService; sessions: SessionService; bus: EventBus; configStore: ConfigStore; logger: Logger; reauthenticateMs?: number },
): Namespace {
  const staff = io.of('/staff');

  // Authenticated once per connection, like HTTP: API token in `auth.token`, or the session cookie.
  staff.use(async (socket, next) => {
    try {
      const principal = await authenticateSocket(socket, deps);
      if (!principal) return next(new Error('unauthenticated'));
      if (isClientContact(principal)) return next(new Error('forbidden: staff only'));
      if (principal.passwordChangeRequired) return next(new Error('forbidden: choose a new password first'));
      (socket.data as StaffSocketData).principal = principal;
      next();
    } catch (error) {
      deps.logger.warn({ err: error }, 'socket authentication failed');
      next(new Error('unavailable'));
    }
  });

  staff.on('connection', (socket) => {
    const data = socket.data as StaffSocketData;
    void socket.join('staff');
    if (canSeeSecurityIncidents(data.principal, deps.configStore.current)) void socket.join('security');

    // Each subscription is authorized on its own, not only at connect time.
    socket.on('subscribe:incident', async (idText: unknown, ack?: (reply: unknown) => void) => {
      try {
        const number = typeof idText === 'string' || typeof idText === 'number' ? parseIncidentId(String(idText)) : undefined;
        const incident = number === undefined ? null : await deps.orm.em.fork().findOne(IncidentSchema, { number });
        if (!incident || !canSeeIncident(data.principal, deps.configStore.current, incident)) return ack?.({ ok: false, error: 'not_found' });
        await socket.join(`incident:${incident.number}`);
        ack?.({ ok: true, room: `incident:${incident.number}` });
      } catch (error) {
        deps.logger.warn({ err: error }, 'socket subscription failed');
        ack?.({ ok: false, error: 'unavailable' });
      }
    });
    socket.on('subscribe:client', async (clientId: unknown, ack?: (reply: unknown) => void) => {
      if (typeof clientId !== 'string' || !deps.configStore.current.clients.some((client) => client.id === clientId)) return ack?.({ ok: false, error: 'not_found' });
      await socket.join(`client:${clientId}`);
      ack?.({ ok: true, room: `client:${clientId}` });
    });
  });

  // A disabled user, a revoked token, an expired session or a change of team ends or
  // narrows a live connection too: within a minute, and at once when access is revoked.
  const recheckSocket = (socket: Socket) =>
    authenticateSocket(socket, deps)
      .then((principal) => {
        if (!principal || isClientContact(principal) || principal.passwordChangeRequired) return void socket.disconnect(true);
        (socket.data as StaffSocketData).principal = principal;
        if (!canSeeSecurityIncidents(principal, deps.configStore.current)) void socket.leave('security');
      })
      .catch((error) => deps.logger.warn({ err: error }, 'socket re-authentication failed'));
  const recheck = setInterval(() => staff.sockets.forEach(recheckSocket), deps.reauthenticateMs ?? REAUTHENTICATE_MS);
  recheck.unref();
  deps.bus.on('access.revoked', ({ userId }) => staff.sockets.forEach((socket) => (socket.data as StaffSocketData).principal?.userId === userId && void recheckSocket(socket)));

  deps.bus.on('incident.changed', (event) => {
    // Nobody listening (the usual case during an alert or timer storm without staff online): no query.
    if (staff.sockets.size === 0) return;
    void (async () => {
      const incident = await deps.orm.em.fork().findOne(IncidentSchema, { id: event.incidentId });
      if (!incident) return;
      const payload = {
        kind: event.kind,
        id: formatIncidentId(incident.number),
        title: incident.title,
        clientId: incident.clientId,
        state: incident.state,
        severity: incident.severity,
        priority: incident.priority,
        version: incident.version,
        updatedAt: incident.updatedAt.toISOString(),
      };
      const rooms = [incident.security ? 'security' : 'staff'];
      if (!incident.security) {
        rooms.push(`incident:${incident.number}`);
        if (incident.clientId) rooms.push(`client:${incident.clientId}`);
      }
      staff.to(rooms).emit('incident.changed', payload);
    })().catch((error) => deps.logger.warn({ err: error }, 'could not publish incident event'));
  });

  return staff;
}

/** Who is behind a socket: an API token in `auth.token`, or the session cookie. */
export async function authenticateSocket(socket: Socket, deps: { users: UserService; sessions: SessionService }): Promise<Principal | null> {
  const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  if (typeof token === 'string' && token) return deps.users.authenticateToken(token);
  const cookieHeader = socket.handshake.headers.cookie;
  const sessionId = cookieHeader ? parseCookie(cookieHeader)[SESSION_COOKIE] : undefined;
  return sessionId ? deps.sessions.resolve(sessionId) : null;
}

export function createSocketServer(httpServer: HttpServer, publicUrl: string): Server {
  const allowedOrigins = new Set([new URL(publicUrl).origin]);
  return new Server(httpServer, {
    // Same-origin pages only; the status page and bridge are served by this daemon.
    cors: { origin: false },
    serveClient: true,
    // Browsers send Origin: refuse pages of other sites (a session cookie would otherwise
    // ride along). Clients that are not browsers send none and authenticate with a token.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      if (!origin) return callback(null, true);
      const sameHost = (() => {
        try {
          return new URL(origin).host === req.headers.host;
        } catch {
          return false;
        }
      })();
      callback(null, sameHost || allowedOrigins.has(origin));
    },
  });
}
