import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from '../../platform/logger';

/**
 * Live connections (socket.io) are authenticated when they open and checked again every
 * minute. When a user's sessions end or tokens are revoked (disabled, password changed or
 * reset, token rotated), that minute is too long: the transaction doing it also sends a
 * PostgreSQL notification, which PostgreSQL delivers to every daemon when, and only if, the
 * transaction commits, whether it ran in a daemon, in another replica or in the CLI. Each
 * daemon then checks that user's live connections again at once.
 */
const CHANNEL = 'incidentd_access_revoked';
const RECONNECT_MS = 5_000;

/** Inside the transaction that ends sessions or revokes tokens of `userId`. */
export async function announceAccessRevoked(em: EntityManager, userId: number): Promise<void> {
  await em.getConnection().execute('select pg_notify(?, ?)', [CHANNEL, String(userId)], 'all', em.getTransactionContext());
}

/**
 * Listens for those notifications on a connection of its own (a pooled one could be closed
 * or handed to a query). A lost connection is opened again after a pause; meanwhile the
 * periodic checks still end revoked connections within their minute.
 */
export function listenForAccessRevocations(deps: { connectionString: string; logger: Logger; onRevoked: (userId: number) => void }): { listening: Promise<void>; stop(): Promise<void> } {
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;
  let stopped = false;
  let markListening = () => {};
  const listening = new Promise<void>((resolve) => (markListening = resolve));

  const reconnectLater = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = null;
      void connect();
    }, RECONNECT_MS);
    retry.unref();
  };

  async function connect(): Promise<void> {
    const candidate = new pg.Client({ connectionString: deps.connectionString, connectionTimeoutMillis: 3_000, keepAlive: true, application_name: 'incidentd access listener' });
    candidate.on('notification', (message) => {
      const userId = Number(message.payload);
      if (message.channel === CHANNEL && Number.isInteger(userId)) deps.onRevoked(userId);
    });
    const lost = (error?: Error) => {
      if (client !== candidate) return;
      client = null;
      if (!stopped) deps.logger.warn({ err: error }, 'lost the connection that hears about revoked access; connecting again');
      candidate.end().catch(() => {});
      reconnectLater();
    };
    candidate.on('error', lost);
    candidate.on('end', () => lost());
    try {
      await candidate.connect();
      await candidate.query(`listen ${CHANNEL}`);
      if (stopped) return void (await candidate.end());
      client = candidate;
      markListening();
    } catch (error) {
      candidate.end().catch(() => {});
      if (!stopped) deps.logger.warn({ err: error }, 'could not listen for revoked access; trying again');
      reconnectLater();
    }
  }

  void connect();
  return {
    /** Resolves once the first LISTEN is in place (tests wait for it). */
    listening,
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      const current = client;
      client = null;
      await current?.end().catch(() => {});
    },
  };
}
