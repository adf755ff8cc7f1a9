import { z } from 'zod';
import type { RegisteredRoute } from './api-router';

/**
 * OpenAPI 3.1 document generated from the routes themselves (summary, access, zod
 * schemas), so the documentation cannot drift from what the server validates.
 */
export function buildOpenApiDocument(routes: RegisteredRoute[], info: { version: string; serverUrl: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...[...route.path.matchAll(/:(\w+)/g)].map((match) => ({ name: match[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...queryParameters(route.query),
    ];
    const security = 'integration' in route.access ? [{ integrationToken: [] }, { integrationBasic: [] }] : [{ bearerToken: [] }, { sessionCookie: [] }];
    const access =
      'roles' in route.access ? `Roles: ${route.access.roles.join(', ')}.` : 'integration' in route.access ? `Integration token of type ${route.access.integration}.` : 'Any signed-in user.';
    (paths[path] ??= {})[route.method] = {
      summary: route.summary,
      description: access,
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(route.body) } } } } : {}),
      security,
      responses: {
        '200': { description: 'OK' },
        '400': { $ref: '#/components/responses/Error' },
        '401': { $ref: '#/components/responses/Error' },
        '403': { $ref: '#/components/responses/Error' },
        '404': { $ref: '#/components/responses/Error' },
        '409': { $ref: '#/components/responses/Error' },
        '503': { $ref: '#/components/responses/Error' },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'incidentd API', version: info.version, description: 'Incident response for managed-service providers. Every error has the body {"error": {"code", "message", "details"}}.' },
    servers: [{ url: `${info.serverUrl}/api/v1` }],
    paths,
    components: {
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'API token of a user (npx incidentd user add / token rotate)' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'incidentd_session', description: 'browser session; writes also need the X-CSRF-Token header' },
        integrationToken: { type: 'http', scheme: 'bearer', description: 'token of an integrations[] entry' },
        integrationBasic: { type: 'http', scheme: 'basic', description: 'integration token as the Basic auth password (any user name)' },
      },
      responses: {
        Error: {
          description: 'Error',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['error'],
                properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } } },
              },
            },
          },
        },
      },
    },
  };
}

function toSchema(schema: z.ZodType) {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
}

function queryParameters(schema: z.ZodType | undefined) {
  if (!(schema instanceof z.ZodObject)) return [];
  const json = toSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}
