import express, { type Request, type RequestHandler, type Response } from 'express';
import { AppError, ValidationError } from '../../platform/errors';
import type { Metrics } from '../../platform/metrics';
import type { ViewRenderer } from '../../platform/http/views';
import { MIN_PASSWORD_LENGTH, type UserService } from '../users/user-service';
import { actorOf } from '../../platform/http/api-router';
import type { Csrf } from './csrf';
import { DEVICE_COOKIE, DEVICE_COOKIE_TTL_MS, type LoginThrottle } from './login-throttle';
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
  throttle: LoginThrottle;
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

  router.get('/login', deps.csrf.ensurePresession, (req, res) => renderLogin(req, res, 200));

  // Throttled per account, per address and per known browser (see login-throttle.ts).
  router.post('/login', async (req, res) => {
    const email = typeof req.body?.email === 'string' ? req.body.email : '';
    const password = typeof req.body?.password === 'string' ? req.body.password : '';
    if (!email || !password) return renderLogin(req, res, 401, 'Wrong email or password, or the account is disabled.');
    const attempt = await deps.throttle.attempt({ email, address: req.ip ?? '', deviceCookie: req.cookies?.[DEVICE_COOKIE] });
    if (!attempt.allowed) {
      deps.metrics.loginAttempts.inc({ result: 'rate_limited' });
      const minutes = Math.ceil(attempt.retryAfterSeconds / 60);
      res.setHeader('Retry-After', String(attempt.retryAfterSeconds));
      return renderLogin(
        req,
        res,
        429,
        `Too many failed sign-ins ${attempt.reason === 'account' ? 'for this account' : 'from your network'}. A browser that signed in to this account before is not held up; from this one, try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      );
    }
    const principal = await deps.users.authenticatePassword(email, password);
    if (!principal) {
      deps.metrics.loginAttempts.inc({ result: 'failed' });
      return renderLogin(req, res, 401, 'Wrong email or password, or the account is disabled.');
    }
    await attempt.succeeded();
    deps.metrics.loginAttempts.inc({ result: 'succeeded' });
    // This browser is now a known one for the account (renewed at every sign-in).
    res.cookie(DEVICE_COOKIE, deps.throttle.deviceCookie(email), { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: '/login', maxAge: DEVICE_COOKIE_TTL_MS });
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

  const renderPasswordForm = async (req: Request, res: Response, status: number, error?: string) => {
    res.status(status).type('html').send(
      deps.views.render('account-password', {
        title: 'Choose a password',
        required: req.principal?.passwordChangeRequired ?? false,
        minLength: MIN_PASSWORD_LENGTH,
        // Offered only to someone who has API tokens to revoke.
        activeTokens: req.principal ? await deps.users.activeTokenCount(req.principal.userId) : 0,
        csrfToken: deps.csrf.token(req, res),
        error,
      }),
    );
  };

  router.get(PASSWORD_PAGE, async (req, res) => {
    if (!req.principal || req.principal.via !== 'session') return res.redirect(303, `/login?next=${PASSWORD_PAGE}`);
    await renderPasswordForm(req, res, 200);
  });

  router.post(PASSWORD_PAGE, async (req, res) => {
    if (!req.principal || req.principal.via !== 'session') return res.redirect(303, `/login?next=${PASSWORD_PAGE}`);
    const { currentPassword = '', newPassword = '', confirmPassword = '', revokeTokens } = req.body ?? {};
    if (newPassword !== confirmPassword) return renderPasswordForm(req, res, 400, 'The two new passwords differ.');
    try {
      // Other sessions end; this one, where the person just proved who they are, stays.
      await deps.users.changePassword(req.principal.userId, String(currentPassword), String(newPassword), actorOf(req.principal), { keepSessionHash: req.principal.sessionIdHash, revokeTokens: revokeTokens === 'yes' });
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
