import type { Namespace, Server } from 'socket.io';
import type { Logger } from '../../platform/logger';
import { canSeeClient } from '../auth/principal';
import type { SessionService } from '../auth/session-service';
import { authenticate } from '../live/staff-socket';
import type { UserService } from '../users/user-service';
import type { StatusPageService } from './status-page-service';

const room = (clientId: string) => `status:${clientId}`;

/**
 * The `/status` socket.io namespace: open status pages join their client's room and get
 * the live part of the page whenever it changes. Every connection (first or after a
 * dropped one) receives the current state at once, so a page that missed pushes while
 * offline resyncs. A broadcast is one serialized packet for the whole room.
 */
export function attachStatusSocket(io: Server, deps: { statusPages: StatusPageService; users: UserService; sessions: SessionService; logger: Logger }): Namespace {
  const status = io.of('/status');

  status.use(async (socket, next) => {
    const clientId = (socket.handshake.auth as { client?: unknown } | undefined)?.client;
    try {
      if (typeof clientId !== 'string') return next(new Error('not_found'));
      const client = deps.statusPages.clientConfig(clientId);
      if (!client.statusPage.public) {
        // Like the page itself: only the client's own contacts and staff.
        const principal = await authenticate(socket, deps);
        if (!principal || !canSeeClient(principal, clientId)) return next(new Error('not_found'));
      }
      socket.data.clientId = clientId;
      next();
    } catch (error) {
      if ((error as { status?: number }).status === 404) return next(new Error('not_found'));
      deps.logger.warn({ err: error }, 'status socket refused');
      next(new Error('unavailable'));
    }
  });

  status.on('connection', (socket) => {
    const clientId = socket.data.clientId as string;
    void socket.join(room(clientId));
    deps.statusPages
      .get(clientId)
      .then((snapshot) => socket.emit('status', snapshot.livePayload))
      .catch((error) => deps.logger.warn({ err: error, clientId }, 'could not send the status page state'));
  });

  deps.statusPages.onUpdate((snapshot) => {
    status.to(room(snapshot.clientId)).emit('status', snapshot.livePayload);
  });
  return status;
}
