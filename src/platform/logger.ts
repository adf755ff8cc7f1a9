import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry secrets, at the depths callers use. pino replaces them before a
 * line is written. (pino's wildcards match one level each, hence the repetition.)
 */
const SECRET_KEYS = ['password', 'passwordHash', 'token', 'secret', 'authorization', 'cookie'];
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  // The CSRF token is bound to the session: with the session cookie it would be a working pair.
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'config.integrations[*].token',
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
];

/**
 * Database errors from the ORM carry the whole SQL statement with its values in their
 * message (a webhook's payload, a password hash). Logs keep the database's own message.
 */
function serializeError(error: unknown) {
  const serialized = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
  if (!serialized || typeof serialized.message !== 'string') return serialized;
  const message = serialized.message;
  if (/^\s*(with|insert|update|select|delete)\s/i.test(message) && message.includes(' - ')) {
    serialized.message = `database error: ${message.slice(message.lastIndexOf(' - ') + 3)}`;
    if (typeof serialized.stack === 'string') serialized.stack = serialized.stack.split('\n').filter((line) => line.trimStart().startsWith('at ')).join('\n');
  }
  delete serialized.sql;
  delete serialized.params;
  delete serialized.query;
  return serialized;
}

/**
 * Some URLs carry a credential: the token of an e-mailed link (`/respond/<purpose>/<token>`,
 * a client approver's `/changes/approvals/<token>`) or of a calendar feed (`?token=`).
 * Request logs show them masked.
 */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(/(\/(?:respond\/[^/?#]+|changes\/(?:approvals|validations))\/)[^/?#]+/, '$1[redacted]').replace(/([?&](?:token|key)=)[^&#]*/gi, '$1[redacted]');
}

const CREDENTIAL_PARAMS = new Set(['token', 'key']);
const maskCredentials = (record: Record<string, unknown> | undefined) =>
  record && Object.fromEntries(Object.entries(record).map(([name, value]) => [name, CREDENTIAL_PARAMS.has(name) ? '[redacted]' : value]));

/** pino-http's request serializer, with credentials in URLs, query strings and route parameters masked. */
export function serializeRequest(req: { url?: string; query?: Record<string, unknown>; params?: Record<string, unknown> }) {
  return { ...req, url: redactUrl(req.url), query: maskCredentials(req.query), params: maskCredentials(req.params) };
}

export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'incidentd' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
