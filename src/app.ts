import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import cookieParser from 'cookie-parser';
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { createConfigReloader } from './config/config-reloader';
import type { ConfigStore } from './config/config-store';
import { getOrCreateInstanceSecret } from './db/instance-secrets';
import { createAuditService } from './features/audit/audit-service';
import { registerAuditRoutes } from './features/audit/audit-routes';
import { createAuthenticate } from './features/auth/authenticate';
import { createChangeManagement } from './features/changes/change-management';
import { createCsrf } from './features/auth/csrf';
import { createLoginRoutes, passwordChangeGate } from './features/auth/login-routes';
import { createLoginThrottle, type LoginThrottleLimits } from './features/auth/login-throttle';
import { listenForAccessRevocations } from './features/auth/access-revocations';
import { createSessionService } from './features/auth/session-service';
import { registerCatalogRoutes } from './features/catalog/catalog-routes';
import { createHealthRoutes } from './features/health/health-routes';
import { createMetricsEndpoint } from './features/health/metrics-endpoint';
import { registerHealthMetrics } from './features/health/health-metrics';
import { createIntakeMetrics } from './features/alert-intake/intake-metrics';
import { createIntakeRouter } from './features/alert-intake/intake-routes';
import { alertmanagerPayloadSchema, genericPayloadSchema, grafanaPayloadSchema } from './features/alert-intake/payloads';
import { createAlertProcessor } from './features/incidents/alert-processor';
import { registerPoisonAlertRoutes } from './features/incidents/poison-alert-routes';
import { createPoisonAlerts } from './features/incidents/poison-alerts';
import { createIncidentMetrics } from './features/incidents/incident-metrics';
import { registerIncidentRoutes, type IncidentDetailExtension } from './features/incidents/incident-routes';
import { IncidentSchema } from './features/incidents/incident-entities';
import { createIncidentService } from './features/incidents/incident-service';
import { attachStaffSocket, createSocketServer } from './features/live/staff-socket';
import { createUserService } from './features/users/user-service';
import { EscalationSchema } from './features/escalation/escalation-entities';
import { registerEscalationRoutes } from './features/escalation/escalation-routes';
import { createEscalationService } from './features/escalation/escalation-service';
import { registerNotificationRoutes } from './features/notifications/notification-routes';
import { registerReportRoutes } from './features/reports/report-routes';
import { createOutbox } from './features/notifications/outbox';
import { createClientCommunications } from './features/notifications/client-communications';
import { createEmailChannel } from './features/notifications/email-channel';
import { createEmailPreviewRoutes } from './features/notifications/email-preview-routes';
import { createEmailTemplates } from './features/notifications/email-templates';
import { createNotificationSender } from './features/notifications/notification-sender';
import { createRespondRoutes } from './features/notifications/respond-routes';
import { createRestorationFeedback } from './features/notifications/restoration-feedback';
import { createWebhookChannel } from './features/notifications/webhook-channel';
import { createReviewService } from './features/reviews/review-service';
import { createBridgePage, registerBridgeRoutes } from './features/bridge/bridge-routes';
import { createBridgeService } from './features/bridge/bridge-service';
import { registerCorrelationRoutes } from './features/correlation/correlation-routes';
import { createCorrelationService } from './features/correlation/correlation-service';
import { formatChangeId } from './features/changes/change-rules';
import { attachBridgeSocket } from './features/bridge/bridge-socket';
import { createReviewPage, registerReviewRoutes } from './features/reviews/review-routes';
import { createLinkSigner } from './platform/security/signed-links';
import { registerOncallRoutes } from './features/oncall/oncall-routes';
import { createOncallCalendar } from './features/oncall/oncall-calendar';
import { createOncallCalendarFeedRouter, registerOncallCalendarRoutes } from './features/oncall/oncall-calendar-routes';
import { createOncallService } from './features/oncall/oncall-service';
import type { MaintenanceSource } from './features/status-page/maintenance-source';
import { changeMaintenanceSource } from './features/changes/change-maintenance';
import { registerStatusOverrideRoutes } from './features/status-page/status-override-routes';
import { createStatusDocumentFastPath, createStatusPageRouter } from './features/status-page/status-page-routes';
import { createStatusPageService } from './features/status-page/status-page-service';
import { attachStatusSocket } from './features/status-page/status-socket';
import { createStatusSubscriptions } from './features/status-page/status-subscriptions';
import { createSlaDigest } from './features/sla/sla-digest';
import { createSlaService } from './features/sla/sla-service';
import { createTimerEngine } from './features/timers/timer-engine';
import { registerUserRoutes } from './features/users/users-routes';
import { createAccessReview } from './features/users/access-review';
import { actorOf, ApiRouter } from './platform/http/api-router';
import { refuseInvalidUtf8, refuseUnstorableBody } from './platform/http/request-input';
import { createErrorHandler, createErrorResponder, createNotFoundHandler, errorBody } from './platform/http/error-handler';
import { buildOpenApiDocument } from './platform/http/openapi';
import { createViewRenderer } from './platform/http/views';
import { EventBus } from './platform/event-bus';
import type { Clock } from './platform/clock';
import { ForbiddenError, UnauthenticatedError } from './platform/errors';
import { serializeRequest, type Logger } from './platform/logger';
import { createMetrics } from './platform/metrics';

export interface AppDependencies {
  configStore: ConfigStore;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  /** Project root, where views/ and public/ live. */
  rootDir?: string;
  /** Sign-in throttling limits (defaults in login-throttle.ts; tests use small ones). */
  loginThrottle?: Partial<LoginThrottleLimits>;
  /** Alerts per processing batch (tests use small batches to make processors contend). */
  alertBatchSize?: number;
  /** Planned maintenance for status pages (default: scheduled changes; tests pass their own). */
  maintenance?: MaintenanceSource;
}

const ROOT_DIR = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
const REQUEST_ID = /^[\w.:-]{1,64}$/;

/**
 * The composition root: builds every feature's services from its factory and wires the
 * HTTP surface. No module-level singletons; tests build as many apps as they like.
 */
export async function createApp(deps: AppDependencies) {
  const { configStore, orm, clock, logger } = deps;
  const config = configStore.current;
  const rootDir = deps.rootDir ?? ROOT_DIR;
  const metrics = createMetrics();
  registerHealthMetrics(metrics.registry, orm);
  const views = createViewRenderer(path.join(rootDir, 'views'));
  const respond = createErrorResponder(views);

  const audit = createAuditService({ clock });
  const users = createUserService({ orm, clock, audit, knownClientIds: () => new Set(configStore.current.clients.map((client) => client.id)) });
  const sessions = createSessionService({ orm, clock, users });
  const csrf = createCsrf({ secret: await getOrCreateInstanceSecret(orm, 'csrf'), secureCookies: config.server.secureCookies });
  const reloadConfig = createConfigReloader({ configStore, orm, audit, logger, metrics });
  const bus = new EventBus();
  const incidents = createIncidentService({ orm, clock, audit, configStore, bus, metrics: createIncidentMetrics(metrics.registry, orm, clock) });
  const intakeMetrics = createIntakeMetrics(metrics.registry);
  // Intake wakes the processor after each commit; the processor and the timer engine yield
  // to intake while webhooks arrive. (Both closures run only once requests come in.)
  const intake = createIntakeRouter({ orm, configStore, clock, logger, metrics: intakeMetrics, onStored: () => alertProcessor.wake(), pagingInProgress: () => alertProcessor.newGroupsInProgress() });
  // Escalation and SLA follow every incident through observers that run in the incident's
  // own transactions; their timers are durable rows fired by the timer engine.
  const timers = createTimerEngine({
    orm,
    clock,
    logger,
    registry: metrics.registry,
    busy: intake.busy,
    // Escalation pages, SLA and client-update entries reach the live views like staff changes.
    fired: (incidentIds) => {
      orm.em
        .fork()
        .find(IncidentSchema, { id: { $in: incidentIds } }, { fields: ['id', 'number', 'clientId'] })
        .then((changed) => changed.forEach((incident) => bus.emit('incident.changed', { incidentId: incident.id, number: incident.number, clientId: incident.clientId ?? null, kind: 'updated', eventIds: [] })))
        .catch((error) => logger.warn({ err: error }, 'could not announce timer changes'));
    },
  });
  const outbox = createOutbox({ clock, configStore });
  const oncall = createOncallService({ orm, clock, configStore, audit });
  const oncallCalendar = createOncallCalendar({
    orm,
    clock,
    configStore,
    audit,
    oncall,
    people: {
      principalFor: (em, userId) => users.principalForUser(em, userId, 'token'),
      names: async () => new Map((await users.listUsers()).map((user) => [user.email, user.name])),
    },
  });
  const escalation = createEscalationService({ orm, clock, configStore, timers, outbox, oncall, incidents, logger, registry: metrics.registry });
  const sla = createSlaService({ clock, configStore, timers, registry: metrics.registry, hooks: escalation.slaHooks });
  // Correlation first: it marks alerts expected during a change before SLA and escalation look.
  const correlation = createCorrelationService({ orm, clock, configStore, timers, outbox, incidents, audit });
  incidents.observe(correlation.observer);
  incidents.observe(sla.observer);
  incidents.observe(escalation.observer);
  const slaDigest = createSlaDigest({ orm, clock, configStore, outbox, logger, runnerId: timers.runnerId });
  // Client communications (first notice, update cadence, restoration) and the outbox's senders.
  const emailTemplates = createEmailTemplates(path.join(rootDir, 'views', 'emails'));
  const links = createLinkSigner(await getOrCreateInstanceSecret(orm, 'link-signing'), clock);
  const loginThrottle = createLoginThrottle({ orm, clock, signer: links, limits: deps.loginThrottle });
  const communications = createClientCommunications({ clock, configStore, timers, outbox, templates: emailTemplates, links, resolveTargets: escalation.resolveTargets });
  incidents.observe(communications.observer);
  const restorationFeedback = createRestorationFeedback({ orm, clock, links, incidents, followUp: communications.clientReportsNotFixed });
  const accessReview = createAccessReview({ orm, clock, configStore, audit, users, outbox, logger, runnerId: timers.runnerId });
  const reviews = createReviewService({ orm, clock, configStore, audit, incidents, outbox, logger, runnerId: timers.runnerId });
  incidents.observe(reviews.observer);
  // Parts of an incident's detail that other features own; the API and the bridge show them.
  const slaDetail: IncidentDetailExtension = async (em, incident) => ({ sla: await sla.present(em, incident, clock.now()) });
  const communicationDetail: IncidentDetailExtension = async (em, incident) => ({ communication: await communications.present(em, incident) });
  const suspectsDetail: IncidentDetailExtension = async (em, incident) => ({
    suspectChanges: await correlation.suspectsOf(em, incident),
    expectedDuringChange: incident.expectedDuringChange ? formatChangeId(incident.expectedDuringChange) : null,
  });
  const bridge = createBridgeService({ orm, clock, configStore, incidents, extensions: [slaDetail, communicationDetail, suspectsDetail] });
  const notificationSender = createNotificationSender({
    orm,
    clock,
    configStore,
    logger,
    registry: metrics.registry,
    channels: [createEmailChannel({ configStore, templates: emailTemplates }), createWebhookChannel({ configStore })],
  });
  const changes = createChangeManagement({ orm, clock, audit, configStore, outbox, timers, incidents, views, emailTemplates, registry: metrics.registry, links, calendarSecret: await getOrCreateInstanceSecret(orm, 'change-calendar') });
  // A change that stops being implemented releases the alerts held during it (in its transaction).
  changes.core.onTransition(correlation.changeTransitioned);
  // Status pages: one cached rendering per client, rebuilt on incident events (bus),
  // maintenance changes and overrides; subscribers are mailed through the outbox.
  const statusPages = createStatusPageService({ orm, clock, configStore, maintenance: deps.maintenance ?? changeMaintenanceSource({ orm, configStore, onChanged: changes.core.onChanged }), bus, views, logger, registry: metrics.registry });
  const statusSubscriptions = createStatusSubscriptions({ orm, clock, configStore, outbox, signer: links, bus, logger, statusPages });
  // Alerts the processor fails on repeatedly are parked, each group with a triage incident that pages.
  const poison = createPoisonAlerts({ orm, clock, configStore, incidents, bus, logger, registry: metrics.registry });
  const alertProcessor = createAlertProcessor({ orm, clock, configStore, incidents, audit, bus, logger, poison, intakeBusy: intake.busy, batchSize: deps.alertBatchSize });

  let shuttingDown = false;
  let accessRevocations: ReturnType<typeof listenForAccessRevocations> | undefined;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.use(
    pinoHttp({
      logger,
      serializers: { req: serializeRequest },
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Probes and scrapes would drown the log.
      autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
      // Accepted alert webhooks are counted in metrics; logging each one at info level
      // would cost more than storing it. Failures always stand out.
      customLogLevel: (req, res, error) => {
        if (error || res.statusCode >= 500) return 'error';
        if (res.statusCode >= 400) return 'warn';
        return req.url?.startsWith('/api/v1/alerts/') ? 'debug' : 'info';
      },
    }),
  );
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      metrics.httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  });
  // `upgrade-insecure-requests` makes browsers fetch a page's CSS, scripts and socket.io over
  // https (localhost excepted): under plain http on any other host name every page broke. It
  // and HSTS are sent only when the public URL is https, i.e. when https is actually served.
  const servedOverHttps = new URL(config.server.publicUrl).protocol === 'https:';
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: servedOverHttps ? [] : null } }, strictTransportSecurity: servedOverHttps }));
  app.use('/assets', express.static(path.join(rootDir, 'public'), { maxAge: '1h' }));
  app.use(createHealthRoutes({ orm, isShuttingDown: () => shuttingDown }));
  // Metrics have a listener of their own (server.metricsListen, opened by the daemon); here
  // only when that is off and a token guards them. Before user authentication: the bearer
  // token is the metrics token, not a user's.
  const serveMetrics = createMetricsEndpoint({ registry: metrics.registry, token: config.server.metricsToken, logger });
  if (!config.server.metricsListen && config.server.metricsToken) app.get('/metrics', (req, res) => serveMetrics(req, res));

  // Alert webhooks come before the user authentication and CSRF middleware: they carry
  // integration tokens, and user-token lookups would only slow the hot path down.
  app.use('/api/v1/alerts', intake.router);
  // Client approvers' signed links: the token is the credential (no session, no CSRF cookie).
  app.use(changes.publicRouter);
  // On-call calendar feeds: the secret address is the credential, as above.
  app.use(createOncallCalendarFeedRouter(oncallCalendar));

  app.use(express.json({ limit: config.server.bodyLimit, verify: refuseInvalidUtf8 }));
  app.use(express.urlencoded({ extended: false, limit: '100kb', verify: refuseInvalidUtf8 }));
  app.use(refuseUnstorableBody);
  // Links in client e-mails carry their own signed token: no session, no CSRF cookie.
  app.use(createRespondRoutes({ feedback: restorationFeedback, views, configStore }));
  app.use(cookieParser());
  app.use(createAuthenticate({ users, sessions }));
  app.use(csrf.protect);
  app.use(passwordChangeGate);

  app.use(createLoginRoutes({ users, sessions, csrf, views, metrics, secureCookies: config.server.secureCookies, throttle: loginThrottle }));

  app.use('/status', createStatusPageRouter({ statusPages, subscriptions: statusSubscriptions, views, csrf, configStore }));

  // Like Prometheus' /-/reload, but only for admins.
  app.post('/-/reload', async (req, res) => {
    if (!req.principal) throw new UnauthenticatedError();
    if (!req.principal.roles.includes('admin')) throw new ForbiddenError('reloading the configuration needs the admin role');
    const result = await reloadConfig(actorOf(req.principal), String(req.id));
    if (result.ok) res.json({ status: 'reloaded', restartRequired: result.restartRequired });
    else res.status(400).json(errorBody('invalid_config', 'the new configuration is invalid; the previous one stays in force', result.problems));
  });

  app.use(createEmailPreviewRoutes({ templates: emailTemplates, views, configStore }));
  app.use(createReviewPage({ reviews, views }));
  app.use(createBridgePage({ bridge, views, csrf, orm }));
  app.use(changes.pageRouter);

  const api = new ApiRouter(orm);
  registerUserRoutes(api, users);
  accessReview.register(api);
  registerAuditRoutes(api, audit);
  registerCatalogRoutes(api, configStore);
  registerIncidentRoutes(api, incidents, configStore, clock, [
    slaDetail,
    async (em, incident) => {
      const state = await em.findOne(EscalationSchema, { incident });
      return { escalation: state ? { policy: state.policyId, step: state.stepIndex + 1, round: state.round + 1, status: state.status } : null };
    },
    communicationDetail,
    suspectsDetail,
    async (em, incident) => {
      const review = await reviews.forIncident(incident, em);
      return { review: review ? { id: review.id, status: review.status, reason: review.reason } : null };
    },
  ]);
  registerEscalationRoutes(api, escalation);
  registerOncallRoutes(api, oncall);
  registerOncallCalendarRoutes(api, oncallCalendar);
  registerNotificationRoutes(api, { orm, clock, audit });
  registerPoisonAlertRoutes(api, { clock, audit, onRetried: () => alertProcessor.wake() });
  registerReportRoutes(api, { clock, knownClient: (id) => configStore.current.clients.some((client) => client.id === id) });
  registerReviewRoutes(api, reviews);
  registerBridgeRoutes(api, bridge);
  registerCorrelationRoutes(api, correlation, bridge.loadVisible);
  changes.registerApiRoutes(api);
  registerStatusOverrideRoutes(api, { orm, clock, configStore, audit, statusPages });
  api.document({ method: 'post', path: '/alerts/alertmanager', summary: 'Prometheus Alertmanager webhook (version 4); 202 once stored, 503 to retry later', access: { integration: 'alertmanager' }, body: alertmanagerPayloadSchema });
  api.document({ method: 'post', path: '/alerts/grafana', summary: 'Grafana alerting webhook contact point; 202 once stored', access: { integration: 'grafana' }, body: grafanaPayloadSchema });
  api.document({ method: 'post', path: '/alerts/generic', summary: 'Generic JSON alert (scripts, client-reported incidents); trigger or resolve by dedupKey', access: { integration: 'generic' }, body: genericPayloadSchema });
  const openApi = buildOpenApiDocument(api.routes, { version: '1', serverUrl: config.server.publicUrl });
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.use('/api/v1', api.router);

  app.use(createNotFoundHandler(respond));
  app.use(createErrorHandler(logger, respond));

  // Cached public status JSON is answered before Express sees the request (see the function's comment).
  const statusDocuments = createStatusDocumentFastPath(statusPages);
  const handleRequest = (req: IncomingMessage, res: ServerResponse) => statusDocuments(req, res) || app(req, res);

  return {
    /** The HTTP request listener (for http.createServer and tests): the status document fast path, then Express. */
    handleRequest,
    /** The Express application alone, behind the fast path. */
    express: app,
    /** `GET /metrics` for Prometheus, for the metrics listener (server.metricsListen). */
    serveMetrics,
    api,
    metrics,
    services: { users, sessions, loginThrottle, audit, incidents, alertProcessor, poison, timers, sla, slaDigest, escalation, oncall, outbox, notificationSender, communications, restorationFeedback, emailTemplates, links, reviews, bridge, changes, statusPages, statusSubscriptions, correlation, accessReview },
    bus,
    reloadConfig,
    /** Live updates over socket.io, on the HTTP server the app is served by. */
    attachRealtime: (httpServer: HttpServer, options: { reauthenticateMs?: number } = {}) => {
      const io = createSocketServer(httpServer, configStore.current.server.publicUrl);
      attachStaffSocket(io, { orm, users, sessions, bus, configStore, logger, ...options });
      attachBridgeSocket(io, { orm, users, sessions, bus, configStore, logger, bridge, ...options });
      attachStatusSocket(io, { statusPages, configStore, users, sessions, bus, logger, registry: metrics.registry, ...options });
      // Revoked access, wherever it was revoked, ends live connections at once.
      accessRevocations ??= listenForAccessRevocations({ connectionString: orm.config.get('clientUrl')!, logger, onRevoked: (userId) => bus.emit('access.revoked', { userId }) });
      return io;
    },
    /** Resolves once live connections hear about revoked access (see access-revocations.ts). */
    listeningForRevokedAccess: () => accessRevocations?.listening ?? Promise.resolve(),
    /** Readiness turns 503 so load balancers stop sending work while we drain. */
    beginShutdown: () => {
      shuttingDown = true;
      void accessRevocations?.stop();
      // No more status page rebuilds by the clock while the database closes.
      statusPages.stop();
    },
  };
}
export type App = Awaited<ReturnType<typeof createApp>>;
