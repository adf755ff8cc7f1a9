/**
 * Typed errors that carry their HTTP meaning. Services throw these; the HTTP error
 * handler turns them into `{"error": {"code", "message", "details"}}` bodies.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'validation_failed', message, details);
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = 'authentication required') {
    super(401, 'unauthenticated', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'your role does not allow this', details?: unknown) {
    super(403, 'forbidden', message, details);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'not found') {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: unknown) {
    super(409, 'conflict', message, details);
  }
}

/** Transient trouble (database down, overload): the caller should retry later. */
export class UnavailableError extends AppError {
  constructor(message = 'temporarily unavailable, retry later', details?: unknown) {
    super(503, 'unavailable', message, details);
  }
}
