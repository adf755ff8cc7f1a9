import { Router } from 'express';
import type { ConfigStore } from '../../config/config-store';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../../platform/errors';
import type { ViewRenderer } from '../../platform/http/views';
import type { EmailTemplates } from './email-templates';

/**
 * Admin preview of every e-mail template with its sample data (views/emails/<name>/sample.json),
 * in a client's branding: `GET /admin/emails/<name>/preview?client=<id>&part=html|text`.
 */
export function createEmailPreviewRoutes(deps: { templates: EmailTemplates; views: ViewRenderer; configStore: ConfigStore }) {
  const router = Router();

  router.use('/admin/emails', (req, _res, next) => {
    if (!req.principal) throw new UnauthenticatedError();
    if (!req.principal.roles.includes('admin')) throw new ForbiddenError('e-mail previews need the admin role');
    next();
  });

  router.get('/admin/emails', (_req, res) => {
    const clients = deps.configStore.current.clients.map((client) => client.id);
    const templates = deps.templates.names().map((name) => ({ name, subject: deps.templates.render(name, deps.templates.sample(name), { name: 'incidentd' }).subject }));
    res.type('html').send(deps.views.render('admin-emails', { title: 'E-mail templates', templates, clients }));
  });

  router.get('/admin/emails/:name/preview', (req, res) => {
    const clientId = typeof req.query.client === 'string' ? req.query.client : undefined;
    const client = clientId ? deps.configStore.current.clients.find((candidate) => candidate.id === clientId) : deps.configStore.current.clients[0];
    if (!client) throw new NotFoundError(`no client "${clientId}"`);
    const email = deps.templates.render(req.params.name, deps.templates.sample(req.params.name), {
      name: client.branding?.name ?? client.name,
      logoUrl: client.branding?.logoUrl,
      signature: client.branding?.signature,
    });
    res.set('X-Email-Subject', encodeURIComponent(email.subject));
    if (req.query.part === 'text') res.type('text/plain').send(`Subject: ${email.subject}\n\n${email.text}`);
    else res.type('html').send(email.html);
  });

  return router;
}
