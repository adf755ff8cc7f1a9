import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { ViewRenderer } from './views';

/** Every API error answers `{"error": {"code", "message", "details"}}`; never a stack trace. */
export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/** Browsers on page routes get an HTML error page; API clients always get JSON. */
function wantsHtml(req: Request): boolean {
  return !req.path.startsWith('/api/') && !req.path.startsWith('/-/') && req.accepts(['json', 'html']) === 'html';
}

export function createErrorResponder(views: ViewRenderer) {
  return (req: Request, res: Response, status: number, code: string, message: string, details?: unknown) => {
    if (wantsHtml(req)) {
      res.status(status).type('html').send(views.render('error', { title: 'Error', status, heading: code.replace(/_/g, ' '), message }));
    } else {
      res.status(status).json(errorBody(code, message, details));
    }
  };
}
type ErrorResponder = ReturnType<typeof createErrorResponder>;

export function createNotFoundHandler(respond: ErrorResponder): RequestHandler {
  return (req, res) => respond(req, res, 404, 'not_found', `no route for ${req.method} ${req.path}`);
}

/** Errors from the database driver that mean "try again later", not "your input is bad" (also used by the alert processor). */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code ?? '';
  const name = (error as { name?: string } | null)?.name ?? '';
  return (
    name === 'ConnectionException' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '53300', '40001', '40P01'].includes(code) ||
    /Knex: Timeout acquiring a connection/.test(String((error as Error)?.message))
  );
}

export function createErrorHandler(logger: Logger, respond: ErrorResponder): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if ((error as { code?: string }).code === 'csrf_invalid') {
      respond(req, res, 403, 'csrf_invalid', (error as Error).message);
      return;
    }
    if (error instanceof AppError) {
      respond(req, res, error.status, error.code, error.message, error.details);
      return;
    }
    // body-parser errors carry a `type` and an HTTP status.
    const type = (error as { type?: string }).type;
    if (type === 'entity.parse.failed') {
      respond(req, res, 400, 'malformed_json', `request body is not valid JSON: ${(error as Error).message}`);
      return;
    }
    if (type === 'entity.too.large') {
      respond(req, res, 413, 'payload_too_large', `request body is larger than the limit of ${(error as { limit?: number }).limit} bytes`);
      return;
    }
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
      respond(req, res, 415, 'unsupported_encoding', (error as Error).message);
      return;
    }
    // Any other client error from the HTTP stack (too many form fields, an undecodable URL,
    // ...) is the caller's to fix: 4xx with its message, never a 500.
    const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message = error instanceof URIError ? `the URL is not validly encoded (${error.message})` : (error as Error).message;
      respond(req, res, status, type ? type.replace(/[.\s]+/g, '_') : 'bad_request', message);
      return;
    }
    // PostgreSQL refused a value (SQLSTATE class 22, data exception): the same request
    // will never succeed, so it is the caller's error, not a reason to retry.
    if (/^22[0-9A-Z]{3}$/.test(String((error as { code?: string }).code ?? ''))) {
      logger.warn({ err: error, reqId: req.id }, 'database refused a value');
      respond(req, res, 400, 'invalid_data', 'a value in the request cannot be stored (invalid characters, date or number)');
      return;
    }
    if (isTransientDatabaseError(error)) {
      logger.warn({ err: error, reqId: req.id }, 'database unavailable');
      res.setHeader('Retry-After', '5');
      respond(req, res, 503, 'unavailable', 'database unavailable, retry later');
      return;
    }
    logger.error({ err: error, reqId: req.id }, 'unhandled error');
    respond(req, res, 500, 'internal_error', `internal error; quote request id ${String(req.id)} when reporting it`);
  };
}
