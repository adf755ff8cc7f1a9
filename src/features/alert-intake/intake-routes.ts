import type { MikroORM } from '@mikro-orm/postgresql';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { z } from 'zod';
import type { IntegrationConfig, IntegrationType } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { AppError, UnauthenticatedError, UnavailableError, ValidationError } from '../../platform/errors';
import { zodProblems } from '../../platform/http/api-router';
import { secretsEqual } from '../users/credentials';
import type { IntakeMetrics } from './intake-metrics';
import { storeDelivery } from './intake-store';
import {
  alertmanagerPayloadSchema,
  genericPayloadSchema,
  grafanaPayloadSchema,
  normalizeAlertmanager,
  normalizeGeneric,
  type NormalizedDelivery,
} from './payloads';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      integration?: IntegrationConfig;
    }
  }
}

/** The token of an integration, sent as `Authorization: Bearer <token>` or as the Basic auth password. */
function presentedToken(req: Request): string | undefined {
  const header = req.headers.authorization ?? '';
  const [scheme, value] = header.split(' ', 2);
  if (!value) return undefined;
  if (scheme!.toLowerCase() === 'bearer') return value.trim();
  if (scheme!.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/**
 * Alert webhooks. Order matters: authenticate before reading a (possibly 25 MB) body;
 * shed load before doing any work; answer 2xx only after the alerts are committed.
 */
export function createIntakeRouter(deps: {
  orm: MikroORM;
  configStore: ConfigStore;
  clock: Clock;
  metrics: IntakeMetrics;
  onStored: () => void;
}) {
  const { orm, configStore, clock, metrics } = deps;
  const router = express.Router();
  const server = configStore.current.server;
  let inFlight = 0;

  // Load shedding: a sender that gets 503 retries later; one that waits forever times out.
  router.use((_req, res, next) => {
    if (inFlight >= server.maxConcurrentIntake) {
      res.setHeader('Retry-After', '2');
      return next(new UnavailableError('too many webhooks in progress; retry shortly'));
    }
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
    next();
  });

  const authenticate = (type: IntegrationType): RequestHandler => (req, _res, next) => {
    const token = presentedToken(req);
    const integration = token ? configStore.current.integrations.find((candidate) => candidate.type === type && secretsEqual(candidate.token, token)) : undefined;
    if (!integration) return next(new UnauthenticatedError(`missing or invalid token for a ${type} integration (send it as Bearer token or Basic auth password)`));
    req.integration = integration;
    next();
  };

  const json = express.json({ limit: server.intakeBodyLimit, type: () => true });

  const accept = <S extends z.ZodType>(kind: 'alertmanager' | 'grafana' | 'generic', schema: S, normalize: (payload: z.infer<S>, receivedAt: Date) => NormalizedDelivery): RequestHandler =>
    async (req, res) => {
      const stopTimer = metrics.ingestSeconds.startTimer();
      const parsed = schema.safeParse(req.body);
      if (!parsed.success) throw new ValidationError(`not a valid ${kind} webhook payload`, zodProblems(parsed.error));
      const integration = req.integration!;
      const receivedAt = clock.now();
      const delivery = normalize(parsed.data, receivedAt);
      const resolveByKey = kind === 'generic' && (parsed.data as { action?: string }).action === 'resolve';
      const result = await storeDelivery(orm, { integration: integration.name, kind, receivedAt, rawPayload: req.body, delivery, allowRefire: kind === 'generic', resolveByKey });
      stopTimer();
      for (const alert of delivery.alerts) metrics.alertsReceived.inc({ integration: integration.name, status: alert.status });
      deps.onStored();
      res.status(202).json({ status: 'accepted', deliveryId: result.deliveryId, alerts: delivery.alerts.length, changed: result.changed, truncatedAlerts: delivery.truncatedAlerts });
    };

  router.post('/alertmanager', authenticate('alertmanager'), json, accept('alertmanager', alertmanagerPayloadSchema, normalizeAlertmanager));
  router.post('/grafana', authenticate('grafana'), json, accept('grafana', grafanaPayloadSchema, normalizeAlertmanager));
  router.post('/generic', authenticate('generic'), json, accept('generic', genericPayloadSchema, normalizeGeneric));

  // Count every rejection by reason, then let the app's error handler answer.
  const countRejections: ErrorRequestHandler = (error, _req, _res, next) => {
    metrics.webhookRejected.inc({ reason: rejectionReason(error) });
    next(error);
  };
  router.use(countRejections);
  return router;
}

function rejectionReason(error: unknown): string {
  const type = (error as { type?: string }).type;
  if (type === 'entity.parse.failed') return 'malformed_json';
  if (type === 'entity.too.large') return 'too_large';
  if (error instanceof UnauthenticatedError) return 'unauthorized';
  if (error instanceof ValidationError) return 'invalid_payload';
  if (error instanceof UnavailableError) return 'overloaded';
  if (error instanceof AppError) return error.code;
  return 'unavailable';
}
