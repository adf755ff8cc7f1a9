import express, { type Request, type RequestHandler, type Response } from 'express';
import { AppError, ValidationError } from '../../platform/errors';
import { rateLimit } from 'express-rate-limit';
import type { Metrics } from '../../platform/metrics';
import type { ViewRenderer } from '../../platform/http/views';
import { MIN_PASSWORD_LENGTH, type UserService } from '../users/user-service';
import { actorOf } from '../../platform/http/api-router';
import type { Csrf } from './csrf';
import { SESSION_COOKIE, SESSION_TTL_MS, type SessionService } from './session-service';

/** Only same-site relative paths, so `?next=` cannot send someone to another site. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/';
}

const PASSWORD_PAGE = '/account/password';

/**
 * After signing in with a one-time password, a browser session may only choose a new
 * password (or sign out): pages redirect to the form, API calls answer 403.
 */
export const passwordChangeGate: RequestHandler = (req, res, next) => {
  if (!req.principal?.passwordChangeRequired || req.path === PASSWORD_PAGE || req.path === '/logout') return next();
  if (req.method === 'GET' && !req.path.startsWith('/api/')) return res.redirect(303, PASSWORD_PAGE);
  throw new AppError(403, 'password_change_required', `choose a new password at ${PASSWORD_PAGE} first`);
};

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

  // Counts failed attempts only: a person who mistypes twice is not locked out, a
  // password-guessing script is. Per client address, and per account whatever the
  // address, so spreading guesses over many addresses does not help either.
  const failedSignInLimit = (keyGenerator?: (req: Request) => string) =>
    rateLimit({
      windowMs: deps.loginRateLimit.windowMs,
      limit: deps.loginRateLimit.limit,
      skipSuccessfulRequests: true,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      ...(keyGenerator ? { keyGenerator } : {}),
      handler: (req, res) => {
        deps.metrics.loginAttempts.inc({ result: 'rate_limited' });
        renderLogin(req, res, 429, 'Too many failed sign-in attempts. Wait a few minutes and try again.');
      },
    });
  const addressLimiter = failedSignInLimit();
  const accountLimiter = failedSignInLimit((req) => `account:${typeof req.body?.email === 'string' ? req.body.email.trim().toLowerCase() : ''}`);

  router.get('/login', deps.csrf.ensurePresession, (req, res) => renderLogin(req, res, 200));

  router.post('/login', addressLimiter, accountLimiter, async (req, res) => {
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

  const renderPasswordForm = (req: Request, res: Response, status: number, error?: string) => {
    res.status(status).type('html').send(
      deps.views.render('account-password', {
        title: 'Choose a password',
        required: req.principal?.passwordChangeRequired ?? false,
        minLength: MIN_PASSWORD_LENGTH,
        csrfToken: deps.csrf.token(req, res),
        error,
      }),
    );
  };

  router.get(PASSWORD_PAGE, (req, res) => {
    if (!req.principal || req.principal.via !== 'session') return res.redirect(303, `/login?next=${PASSWORD_PAGE}`);
    renderPasswordForm(req, res, 200);
  });

  router.post(PASSWORD_PAGE, async (req, res) => {
    if (!req.principal || req.principal.via !== 'session') return res.redirect(303, `/login?next=${PASSWORD_PAGE}`);
    const { currentPassword = '', newPassword = '', confirmPassword = '' } = req.body ?? {};
    if (newPassword !== confirmPassword) return renderPasswordForm(req, res, 400, 'The two new passwords differ.');
    try {
      await deps.users.changePassword(req.principal.userId, String(currentPassword), String(newPassword), actorOf(req.principal));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const details = (error.details as { message: string }[] | undefined)?.map((d) => d.message).join('; ');
      return renderPasswordForm(req, res, 400, `${error.message}${details ? `: ${details}` : ''}.`);
    }
    res.redirect(303, '/');
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
