import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { AppError, ValidationError } from '../errors';

/**
 * What every route does with what a caller sends, before any feature sees it: the body is
 * UTF-8, every string can be stored, and the zod schema of the route holds. Bad input is
 * the caller's to fix, so it answers 400 naming the field, never a 500 from PostgreSQL.
 */

export interface InputProblem {
  path: string;
  message: string;
}

/** Turns zod issues into `[{path, message}]` with paths like `window.start`. */
export function zodProblems(error: z.ZodError): InputProblem[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(body)',
    message: issue.message,
  }));
}

/** Enough to show the caller what is wrong without answering a megabyte of problems. */
const MAX_TEXT_PROBLEMS = 20;

function textProblem(value: string): string | undefined {
  // PostgreSQL cannot store U+0000 in text or jsonb (the request failed with 500, 08P01).
  if (value.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  // A lone surrogate (JSON "\ud800") would be stored as U+FFFD, silently changing the text.
  if (!value.isWellFormed()) return 'contains invalid Unicode (an unpaired surrogate such as \\ud800)';
  return undefined;
}

/**
 * Every string in a parsed body, query or set of path parameters (object keys included)
 * that cannot be stored as it was sent. One check for every field of every route, so a
 * new free-text field is covered without anyone remembering to. Iterative on purpose: a
 * body of deeply nested arrays must not overflow the stack.
 */
export function unstorableTextProblems(input: unknown): InputProblem[] {
  const problems: InputProblem[] = [];
  const pending: { value: unknown; path: string[] }[] = [{ value: input, path: [] }];
  const pathOf = (path: string[]) => (path.length ? path.join('.') : '(body)');
  while (pending.length && problems.length < MAX_TEXT_PROBLEMS) {
    const { value, path } = pending.pop()!;
    if (typeof value === 'string') {
      const message = textProblem(value);
      if (message) problems.push({ path: pathOf(path), message });
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i -= 1) pending.push({ value: value[i], path: [...path, String(i)] });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value).reverse()) {
        const message = textProblem(key);
        if (message) problems.push({ path: pathOf([...path, key]), message: `its name ${message}` });
        pending.push({ value: child, path: [...path, key] });
      }
    }
  }
  return problems;
}

export type InputResult<T> = { success: true; data: T } | { success: false; problems: InputProblem[] };

/** `schema.safeParse` plus the text check, with every problem of both at once. */
export function safeParseInput<S extends z.ZodType>(schema: S, value: unknown): InputResult<z.output<S>> {
  const textProblems = unstorableTextProblems(value);
  const parsed = schema.safeParse(value);
  if (parsed.success && !textProblems.length) return { success: true, data: parsed.data };
  return { success: false, problems: [...textProblems, ...(parsed.success ? [] : zodProblems(parsed.error))] };
}

/** The parsed value, or a 400 `validation_failed` with `message` and every problem. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, message: string): z.output<S> {
  const result = safeParseInput(schema, value);
  if (!result.success) throw new ValidationError(message, result.problems);
  return result.data;
}

/**
 * For routes that read `req.body` without a schema (sign-in, password change, page forms):
 * the same text check as parseInput, as middleware after the body parsers. API routes are
 * left to parseInput, which lists these problems together with their schema's.
 */
export const refuseUnstorableBody: RequestHandler = (req, _res, next) => {
  if (req.path.startsWith('/api/')) return next();
  const problems = unstorableTextProblems(req.body);
  next(problems.length ? new ValidationError('invalid request body', problems) : undefined);
};

/**
 * The byte offset where `buffer` stops being UTF-8: the first byte the decoder replaced
 * (at most three bytes after the start of the bad sequence). Only called on bad input.
 */
function firstInvalidByte(buffer: Buffer): number {
  const reencoded = Buffer.from(buffer.toString('utf8'), 'utf8');
  let offset = 0;
  while (offset < buffer.length && buffer[offset] === reencoded[offset]) offset += 1;
  return offset;
}

/**
 * A body parser `verify` hook (express.json / express.urlencoded): refuses a body that is
 * not valid UTF-8 instead of letting the decoder turn the bad bytes into U+FFFD and store
 * text the sender never sent. Bodies declared in another charset (JSON in UTF-16) are
 * decoded by the parser and not checked here.
 */
export function refuseInvalidUtf8(_req: IncomingMessage, _res: ServerResponse, buffer: Buffer, encoding: string): void {
  if (!/^utf-?8$/i.test(encoding) || isUtf8(buffer)) return;
  throw new AppError(400, 'invalid_utf8', `request body is not valid UTF-8 (bad byte sequence near byte ${firstInvalidByte(buffer)}); send UTF-8 text`);
}
