import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Namespace, Server, Socket } from 'socket.io';
import type { ConfigStore } from '../../config/config-store';
import type { EventBus } from '../../platform/event-bus';
import type { Logger } from '../../platform/logger';
import { canSeeClient } from '../auth/principal';
import type { SessionService } from '../auth/session-service';
import { authenticateSocket, REAUTHENTICATE_MS } from '../live/staff-socket';
import type { UserService } from '../users/user-service';
import type { StatusPageService, StatusSnapshot } from './status-page-service';

/**
 * Viewers of a page are spread over this many rooms, and a push goes out room by room with
 * a turn of the event loop in between: with 10,000 viewers one push writes 10,000 frames,
 * which would otherwise hold the loop (and every HTTP request) for as long as that takes.
 * Each room's packet is still serialized once.
 */
const SHARDS = 16;
const shardRooms = (clientId: string) => Array.from({ length: SHARDS }, (_, shard) => `status:${clientId}:${shard}`);
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
/** A live part larger than this is preceded by a statuses-only push (see push()). */
export const STATUSES_FIRST_ABOVE_BYTES = 16 * 1024;

/**
 * The `/status` socket.io namespace: open status pages join their client's room and get
 * the live part of the page whenever it changes. Every connection (first or after a
 * dropped one) receives at once the parts that differ from the versions the page says
 * it shows (handshake `auth.version` and `auth.uptime`), so a page that missed pushes
 * while offline resyncs. A broadcast is one serialized packet for the whole room.
 */
export function attachStatusSocket(
  io: Server,
  deps: { statusPages: StatusPageService; configStore: ConfigStore; users: UserService; sessions: SessionService; bus: EventBus; logger: Logger; registry: Registry; reauthenticateMs?: number },
): Namespace {
  const status = io.of('/status');
  new Gauge({
    name: 'incidentd_status_viewers',
    help: 'Open status pages (socket.io connections to /status)',
    registers: [deps.registry],
    collect() {
      this.set(status.sockets.size);
    },
  });
  const pushDuration = new Histogram({
    name: 'incidentd_status_push_seconds',
    help: 'Time to write one status page change to every open page of the client',
    labelNames: ['part'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });
  let nextShard = 0;

  /** Like the page itself: public, or only for the client's own contacts and staff. */
  async function mayWatch(socket: Socket, clientId: string): Promise<boolean> {
    if (deps.statusPages.clientConfig(clientId).statusPage.public) return true;
    const principal = await authenticateSocket(socket, deps);
    return !!principal && canSeeClient(principal, clientId);
  }

  status.use(async (socket, next) => {
    const clientId = (socket.handshake.auth as { client?: unknown } | undefined)?.client;
    try {
      if (typeof clientId !== 'string' || !(await mayWatch(socket, clientId))) return next(new Error('not_found'));
      socket.data.clientId = clientId;
      next();
    } catch (error) {
      if ((error as { status?: number }).status === 404) return next(new Error('not_found'));
      deps.logger.warn({ err: error }, 'status socket refused');
      next(new Error('unavailable'));
    }
  });

  // Pages stay open for days: a disabled contact or an expired session stops receiving
  // updates within a minute, and a page made private by a reload at once.
  const recheckAll = () => {
    for (const socket of status.sockets.values()) {
      mayWatch(socket, socket.data.clientId as string)
        .then((allowed) => allowed || socket.disconnect(true))
        .catch((error) => ((error as { status?: number }).status === 404 ? socket.disconnect(true) : deps.logger.warn({ err: error }, 'status socket re-check failed')));
    }
  };
  const recheck = setInterval(recheckAll, deps.reauthenticateMs ?? REAUTHENTICATE_MS);
  recheck.unref();
  deps.configStore.onReplace(recheckAll);
  // Revoked access (rare: an administrator's act) re-checks at once; public pages are checked without a query.
  deps.bus.on('access.revoked', recheckAll);

  status.on('connection', (socket) => {
    const clientId = socket.data.clientId as string;
    // What the page shows already (a page just loaded, or one reconnecting after a restart
    // of the server): only what differs is sent, not the whole page again.
    const { version, uptime } = socket.handshake.auth as { version?: unknown; uptime?: unknown };
    nextShard = (nextShard + 1) % SHARDS;
    void socket.join(shardRooms(clientId)[nextShard]!);
    deps.statusPages
      .get(clientId)
      .then((snapshot) => {
        if (version !== snapshot.version) socket.emit('page', snapshot.livePayload);
        if (uptime !== snapshot.uptimePayload.version) socket.emit('uptime', snapshot.uptimePayload);
      })
      .catch((error) => deps.logger.warn({ err: error, clientId }, 'could not send the status page state'));
  });

  // One push per change: the live part, which shows the statuses (and carries them as data).
  // With 10,000 open pages a push costs about one write per page whatever its size up to a
  // few kilobytes, so a separate statuses-only push ahead of it would double the cost of every
  // change for no gain. Only when the live part is large (many incidents with long updates)
  // do the statuses go out on their own first, so that they reach everyone as fast as ever.
  // The uptime bars follow, when they changed.
  async function push(snapshot: StatusSnapshot, sent: StatusSnapshot | null): Promise<void> {
    const send = async (part: 'status' | 'page' | 'uptime', payload: unknown) => {
      const timer = pushDuration.startTimer({ part });
      for (const room of shardRooms(snapshot.clientId)) {
        status.to(room).emit(part, payload);
        await yieldToLoop();
      }
      timer();
    };
    const statuses = (s: StatusSnapshot | null) => JSON.stringify(s && { ...s.statusPayload, version: '', sequence: 0 });
    const statusesChanged = statuses(snapshot) !== statuses(sent);
    if (statusesChanged && Buffer.byteLength(snapshot.liveHtml) > STATUSES_FIRST_ABOVE_BYTES) await send('status', snapshot.statusPayload);
    if (statusesChanged || snapshot.liveHtml !== sent?.liveHtml) await send('page', snapshot.livePayload);
    if (snapshot.uptimePayload.version !== sent?.uptimePayload.version) await send('uptime', snapshot.uptimePayload);
  }

  // One push at a time per client, in order; snapshots that arrive meanwhile collapse into
  // the newest (a push takes a while with 10,000 viewers, and an older page must never
  // overwrite a newer one).
  const pushers = new Map<string, { running: boolean; next: StatusSnapshot | null; sent: StatusSnapshot | null }>();
  deps.statusPages.onUpdate((snapshot, previous) => {
    // A page's first build: whoever is connected is waiting for it in the connection handler.
    if (!previous) return void pushers.set(snapshot.clientId, { running: false, next: null, sent: snapshot });
    const pusher = pushers.get(snapshot.clientId) ?? { running: false, next: null, sent: previous };
    pushers.set(snapshot.clientId, pusher);
    pusher.next = snapshot;
    if (pusher.running) return;
    pusher.running = true;
    void (async () => {
      while (pusher.next) {
        const next = pusher.next;
        pusher.next = null;
        await push(next, pusher.sent);
        pusher.sent = next;
      }
    })()
      .catch((error) => deps.logger.warn({ err: error }, 'could not push the status page'))
      .finally(() => (pusher.running = false));
  });
  return status;
}
