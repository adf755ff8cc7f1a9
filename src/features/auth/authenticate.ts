import type { RequestHandler } from 'express';
import { UnauthenticatedError } from '../../platform/errors';
import type { UserService } from '../users/user-service';
import { SESSION_COOKIE, type SessionService } from './session-service';

/**
 * Establishes `req.principal` once per request, from `Authorization: Bearer <token>` or
 * the session cookie. Wrong credentials are refused here (401); a request without any
 * credentials passes on unauthenticated, and each route decides whether that is enough.
 */
export function createAuthenticate(deps: { users: UserService; sessions: SessionService }): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    if (header) {
      const [scheme, token] = header.split(' ', 2);
      if (scheme?.toLowerCase() !== 'bearer' || !token) {
        throw new UnauthenticatedError('unsupported Authorization header; use "Bearer <api token>"');
      }
      const principal = await deps.users.authenticateToken(token.trim());
      if (!principal) throw new UnauthenticatedError('invalid or revoked API token');
      req.principal = principal;
      return next();
    }
    const sessionId = req.cookies?.[SESSION_COOKIE];
    if (typeof sessionId === 'string' && sessionId) {
      const principal = await deps.sessions.resolve(sessionId);
      // An expired session is not an error: the person simply is not signed in any more.
      if (principal) req.principal = principal;
    }
    next();
  };
}
