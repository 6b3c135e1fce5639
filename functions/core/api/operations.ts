import * as z from 'zod';
import {
  capacityBody,
  capacityResponse,
  errorResponse,
  eventResponse,
  eventsQuery,
  launchBody,
  launchResponse,
  listServersQuery,
  ltiPlatformBody,
  ltiPlatformQuery,
  ltiPlatformResponse,
  newTokenResponse,
  paged,
  pageQuery,
  putUserBody,
  serverResponse,
  startServerBody,
  tokenBody,
  tokenResponse,
  usageQuery,
  usageResponse,
  userResponse,
} from './schemas.ts';
import type { ApiScope } from './scopes.ts';

/**
 * Every /api/v1 operation, once: method, path, scope, and the schemas of its query,
 * body and responses. The handler's route table attaches an implementation to each id;
 * the OpenAPI document is built from this list.
 */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

export interface Operation {
  id: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** OpenAPI path template under /api/v1, e.g. "/users/{user}". */
  path: string;
  summary: string;
  /** Absent: no authentication (the OpenAPI document itself). */
  scope?: ApiScope;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Extra request headers the operation reads. */
  headers?: { name: string; description: string }[];
  responses: Record<number, ResponseSpec>;
}

const user = (description: string) => ({ description, schema: userResponse });
const server = (description: string) => ({ description, schema: serverResponse });

export const OPERATIONS = {
  openapi: {
    id: 'getOpenApi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document (no authentication)',
    responses: { 200: { description: 'The OpenAPI 3.1 document of /api/v1' } },
  },
  listUsers: {
    id: 'listUsers',
    method: 'GET',
    path: '/users',
    summary: 'List users, by name',
    scope: 'users:read',
    query: pageQuery,
    responses: { 200: { description: 'One page of users', schema: paged(userResponse) } },
  },
  getUser: {
    id: 'getUser',
    method: 'GET',
    path: '/users/{user}',
    summary: 'Get one user',
    scope: 'users:read',
    responses: { 200: user('The user') },
  },
  putUser: {
    id: 'putUser',
    method: 'PUT',
    path: '/users/{user}',
    summary: 'Create a user, or update email, groups and default profile (idempotent)',
    scope: 'users:write',
    body: putUserBody,
    responses: {
      200: user('The user was updated (or already was like this)'),
      201: user('The user was created'),
    },
  },
  deleteUser: {
    id: 'deleteUser',
    method: 'DELETE',
    path: '/users/{user}',
    summary: 'Disable a user (sign-in refused; the home directory is kept)',
    scope: 'users:write',
    responses: { 200: user('The user, now disabled') },
  },
  startServer: {
    id: 'startServer',
    method: 'POST',
    path: '/users/{user}/server',
    summary: "Start the user's server, or return the one already starting or running",
    scope: 'servers:write',
    body: startServerBody,
    responses: {
      200: server('The server is already ready'),
      202: server('The server is starting; poll GET for progress'),
    },
  },
  getServer: {
    id: 'getServer',
    method: 'GET',
    path: '/users/{user}/server',
    summary: "The user's server, with its progress events",
    scope: 'servers:read',
    responses: { 200: server('The current (or last) server of the user') },
  },
  stopServer: {
    id: 'stopServer',
    method: 'DELETE',
    path: '/users/{user}/server',
    summary: "Stop the user's server",
    scope: 'servers:write',
    responses: {
      202: server('Stopping; poll GET until stopped'),
      204: { description: 'Stopped (or was not running)' },
    },
  },
  startNamedServer: {
    id: 'startNamedServer',
    method: 'POST',
    path: '/users/{user}/servers/{server}',
    summary: 'Start one of the user’s named servers (within the per-user limit), or return it if running',
    scope: 'servers:write',
    body: startServerBody,
    responses: {
      200: server('The server is already ready'),
      202: server('The server is starting; poll GET for progress'),
    },
  },
  getNamedServer: {
    id: 'getNamedServer',
    method: 'GET',
    path: '/users/{user}/servers/{server}',
    summary: 'One of the user’s named servers, with its progress events',
    scope: 'servers:read',
    responses: { 200: server('The current (or last) server of that name') },
  },
  stopNamedServer: {
    id: 'stopNamedServer',
    method: 'DELETE',
    path: '/users/{user}/servers/{server}',
    summary: 'Stop one of the user’s named servers',
    scope: 'servers:write',
    responses: {
      202: server('Stopping; poll GET until stopped'),
      204: { description: 'Stopped (or was not running)' },
    },
  },
  listServers: {
    id: 'listServers',
    method: 'GET',
    path: '/servers',
    summary: 'List servers, filtered by state, user or group',
    scope: 'servers:read',
    query: listServersQuery,
    responses: { 200: { description: 'One page of servers, by user', schema: paged(serverResponse) } },
  },
  createLaunchLink: {
    id: 'createLaunchLink',
    method: 'POST',
    path: '/users/{user}/launch',
    summary: 'Make a short-lived, single-use link that opens the user’s lab at a path',
    scope: 'launch',
    body: launchBody,
    headers: [
      {
        name: 'Idempotency-Key',
        description: 'Repeat a request with the same key to get the same link back (within its lifetime).',
      },
    ],
    responses: {
      201: { description: 'The link', schema: launchResponse },
      200: { description: 'The link made earlier for this Idempotency-Key', schema: launchResponse },
    },
  },
  announceCapacity: {
    id: 'announceCapacity',
    method: 'POST',
    path: '/capacity',
    summary:
      'Announce a class (how many students, when), so the load balancers it needs are ready before it starts',
    scope: 'capacity',
    body: capacityBody,
    responses: {
      202: {
        description: 'Recorded; whether the deployment has room for it, and if not what to change',
        schema: capacityResponse,
      },
    },
  },
  usage: {
    id: 'getUsage',
    method: 'GET',
    path: '/usage',
    summary: 'Server hours per user per UTC day (running servers included up to now)',
    scope: 'servers:read',
    query: usageQuery,
    responses: { 200: { description: 'Usage', schema: usageResponse } },
  },
  events: {
    id: 'listEvents',
    method: 'GET',
    path: '/events',
    summary: 'Recent lifecycle events (start, ready, stop, cull with reason, fail), newest first',
    scope: 'servers:read',
    query: eventsQuery,
    responses: { 200: { description: 'Events', schema: z.strictObject({ items: z.array(eventResponse) }) } },
  },
  listTokens: {
    id: 'listServiceTokens',
    method: 'GET',
    path: '/tokens',
    summary: 'Service tokens for JupyterHub services on /hub/api (administrators only)',
    scope: 'users:write',
    responses: {
      200: {
        description: 'Every service token, without secrets',
        schema: z.strictObject({ items: z.array(tokenResponse) }),
      },
    },
  },
  createToken: {
    id: 'createServiceToken',
    method: 'POST',
    path: '/tokens',
    summary:
      'Make a long-lived service token with JupyterHub scopes (administrators only); the token is shown once',
    scope: 'users:write',
    body: tokenBody,
    responses: { 201: { description: 'The token', schema: newTokenResponse } },
  },
  revokeToken: {
    id: 'revokeServiceToken',
    method: 'DELETE',
    path: '/tokens/{token}',
    summary: 'Revoke a service token by id or name (administrators only); it stops working at once',
    scope: 'users:write',
    responses: { 204: { description: 'Revoked' } },
  },
  listLtiPlatforms: {
    id: 'listLtiPlatforms',
    method: 'GET',
    path: '/lti/platforms',
    summary: 'LMS registrations for LTI 1.3 launches (administrators only)',
    scope: 'users:write',
    responses: {
      200: {
        description: 'Every registration, by issuer and client id',
        schema: z.strictObject({ items: z.array(ltiPlatformResponse) }),
      },
    },
  },
  putLtiPlatform: {
    id: 'putLtiPlatform',
    method: 'POST',
    path: '/lti/platforms',
    summary:
      'Register an LMS for LTI 1.3 launches, or replace the registration with the same issuer and client id (administrators only); launches use it at once',
    scope: 'users:write',
    body: ltiPlatformBody,
    responses: {
      200: { description: 'The registration replaced', schema: ltiPlatformResponse },
      201: { description: 'The registration made', schema: ltiPlatformResponse },
    },
  },
  removeLtiPlatform: {
    id: 'removeLtiPlatform',
    method: 'DELETE',
    path: '/lti/platforms',
    summary: 'Remove an LMS registration (administrators only); its launches are refused at once',
    scope: 'users:write',
    query: ltiPlatformQuery,
    responses: { 204: { description: 'Removed' } },
  },
} satisfies Record<string, Operation>;

export type OperationName = keyof typeof OPERATIONS;

const ERRORS: Record<number, string> = {
  400: 'The request is malformed: bad JSON, an unknown or wrong field, a bad username',
  401: 'No valid bearer token',
  403: 'The token lacks the scope this route needs, or the user is disabled',
  404: 'No such user (or server)',
  413: 'The body is larger than 64 KiB',
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

const PATH_PARAMETERS: Record<string, string> = {
  user: 'A username: lowercase letters, digits and single hyphens, starting with a letter (1-32 characters).',
  server: 'A server name, with the same rule as usernames.',
  token: 'A service token’s id or name.',
};

function pathParameters(path: string) {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    description: PATH_PARAMETERS[name!],
    schema: { type: 'string' },
  }));
}

function queryParameters(query: z.ZodObject | undefined) {
  if (!query) return [];
  const schema = jsonSchema(query, 'input') as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: 'query',
      required: (schema.required ?? []).includes(name) && !('default' in property),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/** The OpenAPI 3.1 document of /api/v1, for the given public URL. */
export function openApiDocument(
  publicUrl: string,
  tokenUrl = `${publicUrl.replace(/\/+$/, '')}/oauth2/token`,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of Object.values(OPERATIONS) as Operation[]) {
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(operation.responses)) {
      responses[status] = spec.schema
        ? {
            description: spec.description,
            content: { 'application/json': { schema: jsonSchema(spec.schema, 'output') } },
          }
        : { description: spec.description };
    }
    if (operation.scope) {
      const errors = [
        400,
        401,
        403,
        ...(operation.path.includes('{user}') ? [404] : []),
        ...(operation.body ? [413] : []),
      ];
      for (const status of errors) {
        responses[status] = {
          description: ERRORS[status],
          content: { 'application/json': { schema: jsonSchema(errorResponse, 'output') } },
        };
      }
    }
    const parameters = [
      ...pathParameters(operation.path),
      ...queryParameters(operation.query),
      ...(operation.headers ?? []).map((header) => ({
        name: header.name,
        in: 'header',
        required: false,
        description: header.description,
        schema: { type: 'string', maxLength: 255 },
      })),
    ];
    paths[operation.path] ??= {};
    paths[operation.path]![operation.method.toLowerCase()] = {
      operationId: operation.id,
      summary: operation.summary,
      ...(operation.scope ? { security: [{ oauth2: [operation.scope] }] } : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(operation.body
        ? {
            requestBody: {
              required: false,
              content: { 'application/json': { schema: jsonSchema(operation.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'hubless API for course platforms',
      version: '1.0.0',
      description:
        'Provision students, start and stop their labs, send single-use launch links, read usage and events. ' +
        'Authenticate with an OAuth 2.0 client-credentials token (Cognito custom scopes may carry a "hubless/" prefix). ' +
        'Errors are {"error": {"code", "message"}}; lists are {"items", "next_cursor"}.',
    },
    servers: [{ url: `${publicUrl.replace(/\/+$/, '')}/api/v1` }],
    security: [{ oauth2: [] }],
    components: {
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          flows: {
            clientCredentials: {
              tokenUrl,
              scopes: {
                'users:read': 'Read users',
                'users:write': 'Create, update and disable users',
                'servers:read': 'Read servers, usage and events',
                'servers:write': 'Start and stop servers',
                launch: 'Make launch links',
              },
            },
          },
        },
      },
    },
    paths,
  };
}
