import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import type { ConfigStore } from '../../config/config-store';
import { NotFoundError, UnauthenticatedError } from '../../platform/errors';
import type { ViewRenderer } from '../../platform/http/views';
import { parseInput } from '../../platform/http/request-input';
import { canSeeClient } from '../auth/principal';
import { PRESESSION_COOKIE, type Csrf } from '../auth/csrf';
import type { StatuspageEndpoint } from './statuspage-presenter';
import type { StatusPageService, StatusSnapshot } from './status-page-service';
import type { StatusSubscriptions } from './status-subscriptions';
import { HISTORY_DAYS } from './status-model';
import { incidentView, maintenanceView } from './status-views';

const ENDPOINTS = [
  'summary.json',
  'status.json',
  'components.json',
  'incidents.json',
  'incidents/unresolved.json',
  'scheduled-maintenances.json',
  'scheduled-maintenances/upcoming.json',
  'scheduled-maintenances/active.json',
] as const;

const subscribeForm = z.object({
  email: z.email().max(254),
  // A single checkbox arrives as a string, several as an array.
  components: z.union([z.string(), z.array(z.string())]).optional().transform((value) => (value === undefined ? [] : [value].flat())),
});

/** Sends a cached body with an ETag; public pages may be cached, and read by other sites' widgets. */
function sendDocument(req: IncomingMessage, res: ServerResponse, snapshot: StatusSnapshot, type: string, body: Buffer): void {
  const etag = `"${snapshot.version}"`;
  res.setHeader('ETag', etag);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (snapshot.model.client.public) {
    res.setHeader('Cache-Control', 'public, max-age=0, must-revalidate');
    res.setHeader('Access-Control-Allow-Origin', '*');
  } else {
    res.setHeader('Cache-Control', 'private, no-store');
  }
  if (req.headers['if-none-match'] === etag) {
    res.statusCode = 304;
    return void res.end();
  }
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
}

const DOCUMENT_URL = /^\/status\/([a-z0-9-]+)\/api\/v2\/([a-z/-]+\.json)(?:\?|$)/;

/**
 * Public Statuspage documents straight from the cache, ahead of Express itself: monitors and
 * widgets poll these hardest exactly when an outage brings everyone else too, and Express's
 * own per-request work (router, request/response decoration) costs several times what
 * answering from memory does (summary.json: ~4,500 requests/s through an Express middleware
 * against ~17,000 from the bare request listener, on the 2-CPU benchmark machine). None of
 * logging, metrics, sessions or CSRF applies to a public, cached, read-only document.
 * Answers and returns true, or returns false for the application to handle the request
 * (anything else, a page not built yet, a page that is not public).
 */
export function createStatusDocumentFastPath(statusPages: StatusPageService): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const match = req.method === 'GET' || req.method === 'HEAD' ? DOCUMENT_URL.exec(req.url ?? '') : null;
    const snapshot = match ? statusPages.cachedPublic(match[1]!) : null;
    if (!snapshot || !Object.hasOwn(snapshot.documents, match![2]!)) return false;
    sendDocument(req, res, snapshot, 'application/json; charset=utf-8', snapshot.documents[match![2] as StatuspageEndpoint]);
    return true;
  };
}

/**
 * The public status pages: HTML (server-rendered, live-updated by /assets/status-live.js),
 * the Statuspage API v2 documents, the Atom feed and the subscription forms. Every read is
 * answered from the client's cached snapshot; nothing here queries the database per viewer.
 */
export function createStatusPageRouter(deps: { statusPages: StatusPageService; subscriptions: StatusSubscriptions; views: ViewRenderer; csrf: Csrf; configStore: ConfigStore }) {
  const { statusPages, views } = deps;
  const router = express.Router();

  /** The snapshot, if this request may see the page: public, or the client's own contacts and staff. */
  async function snapshotFor(req: Request): Promise<StatusSnapshot> {
    const clientId = String(req.params.client);
    const client = statusPages.clientConfig(clientId);
    if (!client.statusPage.public) {
      if (!req.principal) throw new UnauthenticatedError('sign in to see this status page');
      if (!canSeeClient(req.principal, clientId)) throw new NotFoundError(`no status page "${clientId}"`);
    }
    return statusPages.get(clientId);
  }

  function page(req: Request, res: Response, snapshot: StatusSnapshot, template: string, data: Record<string, unknown>): void {
    const client = snapshot.model.client;
    // Signed-in pages, and anonymous ones with a form that needs a pre-session token.
    const csrfToken = req.principal?.via === 'session' || (!req.principal && req.cookies?.[PRESESSION_COOKIE]) ? deps.csrf.token(req, res) : null;
    // A page with a visitor's own token must not be stored by shared caches.
    res.setHeader('Cache-Control', !client.public ? 'private, no-store' : csrfToken ? 'private, no-cache' : 'no-cache');
    // The client's logo is usually hosted elsewhere: allow exactly its origin for images.
    const policy = res.getHeader('Content-Security-Policy');
    if (client.logoUrl && typeof policy === 'string') res.setHeader('Content-Security-Policy', policy.replace(/img-src ([^;]*)/, `img-src $1 ${new URL(client.logoUrl).origin}`));
    res.type('html').send(views.render(template, { client, pageUrl: snapshot.pageUrl, csrfToken, ...data }, 'layouts/status'));
  }

  router.get('/', (req, res) => {
    const config = deps.configStore.current;
    const clients = config.clients.filter((client) => client.statusPage.public || (req.principal && canSeeClient(req.principal, client.id)));
    res.type('html').send(views.render('status/index', { title: 'Service status', clients: clients.map((client) => ({ id: client.id, title: client.statusPage.title ?? client.name })) }, 'layouts/status'));
  });

  // The subscription form is sent by anonymous visitors: it carries a pre-session token.
  const presessionForSubscriptions: RequestHandler = (req, res, next) => {
    const client = deps.configStore.current.clients.find((candidate) => candidate.id === req.params.client);
    if (client?.statusPage.subscriptions && !req.principal) return deps.csrf.ensurePresession(req, res, next);
    next();
  };

  router.get('/:client', presessionForSubscriptions, async (req, res) => {
    let snapshot: StatusSnapshot;
    try {
      snapshot = await snapshotFor(req);
    } catch (error) {
      // A contact who is not signed in yet: to the sign-in form, then back here.
      if (error instanceof UnauthenticatedError) return void res.redirect(303, `/login?next=${encodeURIComponent(`/status/${req.params.client}`)}`);
      throw error;
    }
    const model = snapshot.model;
    page(req, res, snapshot, 'status/page', {
      title: model.client.title,
      live: true,
      version: snapshot.version,
      liveHtml: snapshot.liveHtml,
      uptimeVersion: snapshot.uptimePayload.version,
      uptimeHtml: snapshot.uptimeHtml,
      components: model.components.map((c) => ({ id: c.id, name: c.name })),
      subscribed: req.query.subscribed === '1',
      // A private page subscribes the signed-in contact's own address, nothing else.
      subscriberEmail: statusPages.clientConfig(snapshot.clientId).statusPage.public ? null : (req.principal?.email ?? null),
    });
  });

  for (const endpoint of ENDPOINTS) {
    router.get(`/:client/api/v2/${endpoint}`, async (req, res) => {
      const snapshot = await snapshotFor(req);
      sendDocument(req, res, snapshot, 'application/json; charset=utf-8', snapshot.documents[endpoint]);
    });
  }

  router.get('/:client/history.atom', async (req, res) => {
    const snapshot = await snapshotFor(req);
    sendDocument(req, res, snapshot, 'application/atom+xml; charset=utf-8', snapshot.atom);
  });

  router.get('/:client/history', async (req, res) => {
    const snapshot = await snapshotFor(req);
    const model = snapshot.model;
    page(req, res, snapshot, 'status/history', {
      title: `${model.client.title}: history`,
      days: HISTORY_DAYS,
      incidents: model.incidents.map((incident) => incidentView(incident, model, snapshot.pageUrl)),
      maintenances: model.maintenances.map((m) => maintenanceView(m, model)),
    });
  });

  router.get('/:client/incidents/:id', async (req, res) => {
    const snapshot = await snapshotFor(req);
    const incident = snapshot.model.incidents.find((candidate) => candidate.id === req.params.id);
    if (!incident) throw new NotFoundError(`no incident ${req.params.id} on this status page`);
    page(req, res, snapshot, 'status/incident', { title: incident.name, incident: incidentView(incident, snapshot.model, snapshot.pageUrl) });
  });

  router.get('/:client/maintenance/:id', async (req, res) => {
    const snapshot = await snapshotFor(req);
    const maintenance = snapshot.model.maintenances.find((candidate) => candidate.id === req.params.id);
    if (!maintenance) throw new NotFoundError(`no maintenance ${req.params.id} on this status page`);
    page(req, res, snapshot, 'status/maintenance', { title: maintenance.name, maintenance: maintenanceView(maintenance, snapshot.model) });
  });

  // Each address gets at most one mail an hour anyway; this stops one sender from spraying many.
  const subscribeLimit = rateLimit({ windowMs: 15 * 60_000, limit: 20, standardHeaders: 'draft-8', legacyHeaders: false });
  router.post('/:client/subscribe', subscribeLimit, deps.csrf.requireAnonymousToken, async (req, res) => {
    const snapshot = await snapshotFor(req);
    if (!snapshot.model.client.subscriptions) throw new NotFoundError('this status page has no subscriptions');
    const form = parseInput(subscribeForm, req.body ?? {}, 'invalid subscription');
    // A private page's updates go only to the client's contacts: one subscribes oneself.
    const client = statusPages.clientConfig(snapshot.clientId);
    const email = client.statusPage.public ? form.email : req.principal!.email;
    await deps.subscriptions.subscribe(client, email, form.components);
    page(req, res, snapshot, 'status/message', { title: 'Check your e-mail', heading: 'Check your e-mail', message: `We sent a confirmation link to ${email}. Your subscription starts when you use it.` });
  });

  // Links in e-mails open a page with a button: mail scanners that follow links change nothing.
  for (const action of [
    { path: 'subscription/confirm', heading: 'Confirm your subscription', button: 'Confirm subscription', done: 'Your subscription is confirmed. You will receive updates by e-mail.', run: deps.subscriptions.confirm },
    { path: 'unsubscribe', heading: 'Unsubscribe', button: 'Unsubscribe', done: 'You are unsubscribed and will receive no more e-mails from this page.', run: deps.subscriptions.unsubscribe },
  ]) {
    // The signed token is the credential: these work on private pages without signing in.
    router.get(`/:client/${action.path}`, async (req, res) => {
      const snapshot = await statusPages.get(String(req.params.client));
      page(req, res, snapshot, 'status/message', { title: action.heading, heading: action.heading, form: { action: `${snapshot.pageUrl}/${action.path}`, token: String(req.query.token ?? ''), button: action.button } });
    });
    // Also the RFC 8058 one-click POST from mail clients (token in the URL, no cookies).
    router.post(`/:client/${action.path}`, async (req, res) => {
      const snapshot = await statusPages.get(String(req.params.client));
      const token = String(req.body?.token ?? req.query.token ?? '');
      const ok = await action.run(snapshot.clientId, token);
      res.status(ok ? 200 : 400);
      page(req, res, snapshot, 'status/message', { title: action.heading, heading: action.heading, message: ok ? action.done : 'This link is invalid or has expired.' });
    });
  }

  return router;
}
