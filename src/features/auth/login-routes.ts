import express, { type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Metrics } from '../../platform/metrics';
import type { ViewRenderer } from '../../platform/http/views';
import type { UserService } from '../users/user-service';
import type { Csrf } from './csrf';
import { SESSION_COOKIE, SESSION_TTL_MS, type SessionService } from './session-service';

/** Only same-site relative paths, so `?next=` cannot send someone to another site. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/';
}

export function createLoginRoutes(deps: {
  users: UserService;
  sessions: SessionService;
  csrf: Csrf;
  views: ViewRenderer;
  metrics: Metrics;
  secureCookies: boolean;
  loginRateLimit: { windowMs: number; limit: number };
}) {
  const router = express.Router();

  const renderLogin = (req: Request, res: Response, status: number, error?: string) => {
    res.status(status).type('html').send(
      deps.views.render('login', {
        title: 'Sign in',
        csrfToken: deps.csrf.token(req, res),
        next: safeNext(req.query.next ?? req.body?.next),
        email: typeof req.body?.email === 'string' ? req.body.email : '',
        error,
      }),
    );
  };

  // Counts failed attempts only, per client address: a person who mistypes twice is not
  // locked out, a password-guessing script is.
  const limiter = rateLimit({
    windowMs: deps.loginRateLimit.windowMs,
    limit: deps.loginRateLimit.limit,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res) => {
      deps.metrics.loginAttempts.inc({ result: 'rate_limited' });
      renderLogin(req, res, 429, 'Too many failed sign-in attempts. Wait a few minutes and try again.');
    },
  });

  router.get('/login', deps.csrf.ensurePresession, (req, res) => renderLogin(req, res, 200));

  router.post('/login', limiter, async (req, res) => {
    const email = typeof req.body?.email === 'string' ? req.body.email : '';
    const password = typeof req.body?.password === 'string' ? req.body.password : '';
    const principal = email && password ? await deps.users.authenticatePassword(email, password) : null;
    if (!principal) {
      deps.metrics.loginAttempts.inc({ result: 'failed' });
      return renderLogin(req, res, 401, 'Wrong email or password, or the account is disabled.');
    }
    deps.metrics.loginAttempts.inc({ result: 'succeeded' });
    const session = await deps.sessions.create(principal.userId);
    res.cookie(SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'lax',
      secure: deps.secureCookies,
      path: '/',
      maxAge: SESSION_TTL_MS,
    });
    res.redirect(303, safeNext(req.body?.next));
  });

  router.post('/logout', async (req, res) => {
    if (req.principal?.sessionIdHash) await deps.sessions.destroy(req.principal.sessionIdHash);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/login');
  });

  router.get('/', (req, res) => {
    if (!req.principal) return res.redirect(303, '/login');
    res.type('html').send(
      deps.views.render('home', {
        title: 'incidentd',
        user: req.principal,
        roles: req.principal.roles.join(', '),
        csrfToken: deps.csrf.token(req, res),
      }),
    );
  });

  return router;
}
