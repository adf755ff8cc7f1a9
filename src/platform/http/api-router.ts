import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { Actor } from '../../features/audit/audit-service';
import { hasAnyRole, type Principal } from '../../features/auth/principal';
import type { Role } from '../../features/auth/roles';
import { ForbiddenError, UnauthenticatedError, ValidationError } from '../errors';
import './express-types';
import { parseInput, unstorableTextProblems } from './request-input';

export { zodProblems } from './request-input';

/**
 * Who may call a route. Every API route must say; there is no default, so forgetting it
 * is a type error rather than an open door (default deny).
 */
export type Access = { roles: readonly Role[] } | { anyAuthenticated: true };

/** Routes authenticated by an integration token instead of a user (alert webhooks). */
export type DocumentedAccess = Access | { integration: string };

export interface RouteSpec<Body extends z.ZodType, Query extends z.ZodType> {
  access: Access;
  summary: string;
  body?: Body;
  query?: Query;
}

export interface RouteContext<Body, Query> {
  req: Request;
  res: Response;
  principal: Principal;
  actor: Actor;
  requestId: string;
  /** A fresh EntityManager fork for this request. */
  em: EntityManager;
  body: Body;
  query: Query;
  params: Record<string, string>;
}

export interface RegisteredRoute {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  summary: string;
  access: DocumentedAccess;
  body?: z.ZodType;
  query?: z.ZodType;
}

type Handler<Body, Query> = (ctx: RouteContext<Body, Query>) => Promise<unknown> | unknown;

export function actorOf(principal: Principal): Actor {
  return { type: 'user', id: principal.userId, name: principal.email };
}

/**
 * Thin wrapper over an express Router: each route declares access, summary and zod
 * schemas; the wrapper authorizes, validates, forks an EntityManager and serializes the
 * result. The list of routes feeds the OpenAPI document.
 */
export class ApiRouter {
  readonly router = express.Router();
  readonly routes: RegisteredRoute[] = [];

  constructor(private readonly orm: MikroORM) {}

  get<Q extends z.ZodType = z.ZodUnknown>(path: string, spec: RouteSpec<z.ZodType, Q>, handler: Handler<unknown, z.infer<Q>>) {
    this.add('get', path, spec, handler);
  }

  post<B extends z.ZodType = z.ZodUnknown, Q extends z.ZodType = z.ZodUnknown>(path: string, spec: RouteSpec<B, Q>, handler: Handler<z.infer<B>, z.infer<Q>>) {
    this.add('post', path, spec, handler);
  }

  patch<B extends z.ZodType = z.ZodUnknown>(path: string, spec: RouteSpec<B, z.ZodType>, handler: Handler<z.infer<B>, unknown>) {
    this.add('patch', path, spec, handler);
  }

  delete(path: string, spec: RouteSpec<z.ZodType, z.ZodType>, handler: Handler<unknown, unknown>) {
    this.add('delete', path, spec, handler);
  }

  /** Lists a route served elsewhere (e.g. the alert webhooks) in the OpenAPI document. */
  document(route: RegisteredRoute): void {
    this.routes.push(route);
  }

  private add(method: RegisteredRoute['method'], path: string, spec: RouteSpec<z.ZodType, z.ZodType>, handler: Handler<any, any>) {
    this.routes.push({ method, path, summary: spec.summary, access: spec.access, body: spec.body, query: spec.query });
    this.router[method](path, async (req: Request, res: Response) => {
      const principal = req.principal;
      if (!principal) throw new UnauthenticatedError();
      if ('roles' in spec.access && !hasAnyRole(principal, spec.access.roles)) {
        throw new ForbiddenError(`this action needs one of the roles: ${spec.access.roles.join(', ')}`);
      }
      const params = req.params as Record<string, string>;
      const paramProblems = unstorableTextProblems(params);
      if (paramProblems.length) throw new ValidationError('invalid path parameters', paramProblems);
      const body = parse(spec.body, req.body, 'invalid request body');
      const query = parse(spec.query, req.query, 'invalid query parameters');
      const result = await handler({
        req,
        res,
        principal,
        actor: actorOf(principal),
        requestId: String(req.id),
        em: this.orm.em.fork(),
        body,
        query,
        params,
      });
      if (!res.headersSent) {
        if (result === undefined) res.status(res.statusCode === 200 ? 204 : res.statusCode).end();
        else res.json(result);
      }
    });
  }
}

/** Every route's input goes through `parseInput`: its schema and the storable-text check (request-input.ts). */
function parse(schema: z.ZodType | undefined, value: unknown, message: string) {
  if (!schema) return value;
  return parseInput(schema, value ?? {}, message);
}
