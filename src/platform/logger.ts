import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry secrets. pino replaces them before a line is written, so a
 * token or password never reaches the log, whatever a caller passes in.
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.secret',
  '*.passwordHash',
  'config.integrations[*].token',
];

export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'incidentd' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
