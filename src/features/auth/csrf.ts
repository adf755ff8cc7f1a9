import { randomBytes } from 'node:crypto';
import { doubleCsrf } from 'csrf-csrf';
import type { Request, RequestHandler, Response } from 'express';

export const PRESESSION_COOKIE = 'incidentd_presession';

/**
 * CSRF protection for everything a browser session can do (forms and fetch calls):
 * csrf-csrf's HMAC tokens bound to the session (or, before login, to a random
 * pre-session cookie, so the login form is protected too). Requests authenticated with a
 * bearer token are not exposed to CSRF and skip the check.
 */
export function createCsrf(options: { secret: string; secureCookies: boolean }) {
  const utilities = doubleCsrf({
    getSecret: () => options.secret,
    getSessionIdentifier: (req) => req.principal?.sessionIdHash ?? req.cookies?.[PRESESSION_COOKIE] ?? '',
    cookieName: 'incidentd_csrf',
    cookieOptions: { sameSite: 'lax', secure: options.secureCookies, httpOnly: true, path: '/' },
    getCsrfTokenFromRequest: (req) => (req.headers['x-csrf-token'] as string | undefined) ?? req.body?._csrf,
    skipCsrfProtection: (req) => {
      if (req.principal?.via === 'token') return true;
      // Unauthenticated requests get a 401 from the route, except the login form itself.
      return !req.principal && req.path !== '/login';
    },
    errorConfig: { statusCode: 403, code: 'csrf_invalid', message: 'missing or invalid CSRF token; reload the page and try again' },
  });

  const ensurePresession: RequestHandler = (req, res, next) => {
    if (!req.cookies?.[PRESESSION_COOKIE]) {
      const value = randomBytes(16).toString('base64url');
      req.cookies[PRESESSION_COOKIE] = value;
      res.cookie(PRESESSION_COOKIE, value, { sameSite: 'lax', secure: options.secureCookies, httpOnly: true, path: '/' });
    }
    next();
  };

  /**
   * For the few forms anonymous visitors may send (which `protect` lets through): requires
   * the token bound to the pre-session cookie, so another site cannot make visitors'
   * browsers send the form. Signed-in requests were checked by `protect` already.
   */
  const requireAnonymousToken: RequestHandler = (req, _res, next) => {
    if (req.principal || utilities.validateRequest(req)) return next();
    next(utilities.invalidCsrfTokenError);
  };

  return {
    protect: utilities.doubleCsrfProtection,
    ensurePresession,
    requireAnonymousToken,
    token: (req: Request, res: Response) => utilities.generateCsrfToken(req, res, { overwrite: false }),
  };
}
export type Csrf = ReturnType<typeof createCsrf>;
