import type { MikroORM } from '@mikro-orm/postgresql';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { IntegrationConfig, IntegrationType } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import type { Logger } from '../../platform/logger';
import { AppError, UnauthenticatedError, UnavailableError, ValidationError } from '../../platform/errors';
import { zodProblems } from '../../platform/http/api-router';
import { refuseInvalidUtf8 } from '../../platform/http/request-input';
import { requirePlausibleInstants } from '../../platform/plausible-time';
import { secretsEqual } from '../users/credentials';
import type { IntakeMetrics } from './intake-metrics';
import { createIntakeBatcher } from './intake-batcher';
import { storeGenericDelivery } from './intake-store';
import { alertmanagerPayloadSchema, genericPayloadSchema, grafanaPayloadSchema, normalizeGeneric } from './payloads';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      integration?: IntegrationConfig;
      rawBody?: Buffer;
    }
  }
}

/** Webhooks in progress at once while new alert groups are becoming incidents (see the load shedding below). */
const PAGING_INTAKE_LIMIT = 4;

/** The token of an integration, sent as `Authorization: Bearer <token>` or as the Basic auth password. */
export function presentedToken(req: Request): string | undefined {
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
  logger: Logger;
  onStored: () => void;
  /** True while work that pages someone is in progress (new alert groups becoming incidents): intake then makes room. */
  pagingInProgress?: () => boolean;
}) {
  const { orm, configStore, clock, metrics } = deps;
  const router = express.Router();
  const server = configStore.current.server;
  const batcher = createIntakeBatcher({ orm, clock, logger: deps.logger });
  let inFlight = 0;

  // Load shedding: a sender that gets 503 retries later; one that waits forever times out.
  // During an alert storm intake can take the daemon's whole thread, and turning a new
  // problem into an incident (some 30 database round trips, each waiting its turn behind the
  // webhooks) then took as long as the storm. While that work runs, only a few webhooks are
  // let in at once: storing slows down for a moment, paging does not wait.
  router.use((_req, res, next) => {
    const limit = deps.pagingInProgress?.() ? Math.min(PAGING_INTAKE_LIMIT, server.maxConcurrentIntake) : server.maxConcurrentIntake;
    if (inFlight >= limit) {
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

  // Keeps the raw text too: it is stored as received, without serialising it again.
  const json = express.json({
    limit: server.intakeBodyLimit,
    type: () => true,
    verify: (req, res, buffer, encoding) => {
      refuseInvalidUtf8(req, res, buffer, encoding);
      (req as Request).rawBody = buffer;
    },
  });

  /** Validate, commit, answer: 202 only once the webhook and its alerts are in the database. */
  const accepted = (req: Request, res: express.Response, result: { deliveryId: string; changed: number }, statuses: string[], truncatedAlerts: number, stopTimer: () => void) => {
    stopTimer();
    const integration = req.integration!;
    for (const status of statuses) metrics.alertsReceived.inc({ integration: integration.name, status });
    deps.onStored();
    res.status(202).json({ status: 'accepted', deliveryId: result.deliveryId, alerts: statuses.length, changed: result.changed, truncatedAlerts });
  };

  const acceptAlertmanagerShape = (kind: 'alertmanager' | 'grafana', schema: typeof alertmanagerPayloadSchema | typeof grafanaPayloadSchema): RequestHandler =>
    async (req, res) => {
      const stopTimer = metrics.ingestSeconds.startTimer();
      const parsed = schema.safeParse(req.body);
      if (!parsed.success) throw new ValidationError(`not a valid ${kind} webhook payload`, zodProblems(parsed.error));
      const payload = parsed.data;
      const result = await batcher.store({
        integration: req.integration!.name,
        kind,
        receivedAt: clock.now(),
        rawPayload: rawText(req),
        groupKey: payload.groupKey,
        truncatedAlerts: payload.truncatedAlerts,
        alertCount: payload.alerts.length,
      });
      accepted(req, res, result, payload.alerts.map((alert) => alert.status), payload.truncatedAlerts, stopTimer);
    };

  const acceptGeneric: RequestHandler = async (req, res) => {
    const stopTimer = metrics.ingestSeconds.startTimer();
    const parsed = genericPayloadSchema.safeParse(req.body);
    if (!parsed.success) throw new ValidationError('not a valid generic alert payload', zodProblems(parsed.error));
    const receivedAt = clock.now();
    // A script or the service desk says when it happened: in the future or years back is a mistake to refuse (scripts are not Alertmanager, which would drop the alert).
    requirePlausibleInstants(receivedAt, 'happened', { occurredAt: parsed.data.occurredAt });
    const alert = normalizeGeneric(parsed.data, receivedAt);
    const result = await storeGenericDelivery(orm, {
      integration: req.integration!.name,
      kind: 'generic',
      receivedAt,
      rawPayload: rawText(req),
      groupKey: alert.fingerprint,
      truncatedAlerts: 0,
      alertCount: 1,
      alert,
      resolveByKey: parsed.data.action === 'resolve',
    });
    accepted(req, res, result, [alert.status], 0, stopTimer);
  };

  router.post('/alertmanager', authenticate('alertmanager'), json, acceptAlertmanagerShape('alertmanager', alertmanagerPayloadSchema));
  router.post('/grafana', authenticate('grafana'), json, acceptAlertmanagerShape('grafana', grafanaPayloadSchema));
  router.post('/generic', authenticate('generic'), json, acceptGeneric);

  // Count every rejection by reason, then let the app's error handler answer.
  const countRejections: ErrorRequestHandler = (error, _req, _res, next) => {
    metrics.webhookRejected.inc({ reason: rejectionReason(error) });
    next(error);
  };
  router.use(countRejections);
  return {
    router,
    /** Webhooks are being received right now. */
    busy: () => inFlight > 0,
  };
}

/**
 * The body as it was received, for storage: UTF-8 text without a byte-order mark; a body in
 * another charset (which the JSON parser decoded) is stored re-serialised.
 */
function rawText(req: Request): string {
  const charset = /charset=([^;]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.trim().toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') return JSON.stringify(req.body);
  return req.rawBody!.toString('utf8').replace(/^\uFEFF/, '');
}

function rejectionReason(error: unknown): string {
  const type = (error as { type?: string }).type;
  if (type === 'entity.parse.failed') return 'malformed_json';
  if (type === 'entity.too.large') return 'too_large';
  if (error instanceof UnauthenticatedError) return 'unauthorized';
  if (error instanceof ValidationError) return 'invalid_payload';
  if (error instanceof UnavailableError) return 'overloaded';
  if (error instanceof AppError) return error.code;
  if (/^22/.test(String((error as { code?: string }).code ?? ''))) return 'invalid_data';
  return 'unavailable';
}
