import * as z from 'zod';
import { MethodNotAllowedError } from '../../core/api/errors.ts';
import {
  OPERATIONS,
  type Operation,
  type OperationName,
  openApiDocument,
} from '../../core/api/operations.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { normaliseServerName, normaliseUsername } from '../../core/username.ts';
import type { HttpApiEvent, HttpApiResult } from '../http-types.ts';
import { announceCapacityRoute } from './capacity.ts';
import type { ApiDeps, ApiHandlerFn, ApiRequest } from './context.ts';
import {
  API_PREFIX,
  authenticate,
  authenticateHub,
  errorResult,
  HUB_PREFIX,
  jsonBody,
  jsonResult,
  queryOf,
  requireScope,
  validate,
} from './http.ts';
import {
  type HubRoute,
  hubActivity,
  hubDeleteUser,
  hubGetUser,
  hubListUsers,
  hubProgress,
  hubStartServer,
  hubStopServer,
  hubVersion,
  hubWhoAmI,
  JUPYTERHUB_API_VERSION,
} from './hub.ts';
import { createLaunchLinkRoute } from './launch.ts';
import { listLtiPlatformsRoute, putLtiPlatformRoute, removeLtiPlatformRoute } from './lti.ts';
import { hubOAuthAuthorizeElsewhere, hubOAuthToken } from './oauth.ts';
import { eventsRoute, usageRoute } from './reports.ts';
import { getServerRoute, listServersRoute, startServerRoute, stopServerRoute } from './servers.ts';
import { createTokenRoute, listTokensRoute, revokeTokenRoute } from './tokens.ts';
import { deleteUserRoute, getUserRoute, listUsersRoute, putUserRoute } from './users.ts';

/**
 * The route tables. /api/v1 routes come from the operation catalogue (core/api/
 * operations.ts), which also gives each one its scope and schemas; /hub/api routes
 * follow JupyterHub. Both share authentication, path matching and error handling.
 */
/** In AWS the API is API Gateway's, not the browsers' domain: `servers` names the host it was called at. */
const openApiRoute: ApiHandlerFn = async (deps, { event }) => {
  const host = event.requestContext.domainName;
  return jsonResult(200, openApiDocument(host ? `https://${host}` : deps.publicUrl, deps.tokenUrl));
};

export const API_ROUTES: Record<OperationName, ApiHandlerFn> = {
  openapi: openApiRoute,
  listUsers: listUsersRoute,
  getUser: getUserRoute,
  putUser: putUserRoute,
  deleteUser: deleteUserRoute,
  startServer: startServerRoute,
  getServer: getServerRoute,
  stopServer: stopServerRoute,
  startNamedServer: startServerRoute,
  getNamedServer: getServerRoute,
  stopNamedServer: stopServerRoute,
  listServers: listServersRoute,
  createLaunchLink: createLaunchLinkRoute,
  announceCapacity: announceCapacityRoute,
  usage: usageRoute,
  events: eventsRoute,
  listTokens: listTokensRoute,
  createToken: createTokenRoute,
  revokeToken: revokeTokenRoute,
  listLtiPlatforms: listLtiPlatformsRoute,
  putLtiPlatform: putLtiPlatformRoute,
  removeLtiPlatform: removeLtiPlatformRoute,
};

interface HubRouteSpec {
  method: string;
  path: string;
  handle: HubRoute;
  public?: boolean;
}

/** JupyterHub's paths; a server name may be empty (/servers/ is the default server, as in JupyterHub). */
export const HUB_ROUTES: HubRouteSpec[] = [
  { method: 'GET', path: '/', handle: hubVersion, public: true },
  { method: 'GET', path: '/user', handle: hubWhoAmI },
  { method: 'GET', path: '/users', handle: hubListUsers },
  { method: 'GET', path: '/users/{user}', handle: hubGetUser },
  { method: 'DELETE', path: '/users/{user}', handle: hubDeleteUser },
  { method: 'POST', path: '/users/{user}/server', handle: hubStartServer },
  { method: 'DELETE', path: '/users/{user}/server', handle: hubStopServer },
  { method: 'GET', path: '/users/{user}/server/progress', handle: hubProgress },
  { method: 'POST', path: '/users/{user}/servers/', handle: hubStartServer },
  { method: 'DELETE', path: '/users/{user}/servers/', handle: hubStopServer },
  { method: 'GET', path: '/users/{user}/servers//progress', handle: hubProgress },
  { method: 'POST', path: '/users/{user}/servers/{server}', handle: hubStartServer },
  { method: 'DELETE', path: '/users/{user}/servers/{server}', handle: hubStopServer },
  { method: 'GET', path: '/users/{user}/servers/{server}/progress', handle: hubProgress },
  { method: 'POST', path: '/users/{user}/activity', handle: hubActivity },
  // HubOAuth: the service authenticates with its client secret; the browser's step is the portal's.
  { method: 'POST', path: '/oauth2/token', handle: hubOAuthToken, public: true },
  { method: 'GET', path: '/oauth2/authorize', handle: hubOAuthAuthorizeElsewhere, public: true },
];

/** JupyterHub sends its version on every API answer (BaseHandler.set_default_headers). */
const HUB_HEADERS = { 'x-jupyterhub-version': JUPYTERHUB_API_VERSION };

function withHubHeaders(result: HttpApiResult): HttpApiResult {
  return { ...result, headers: { ...result.headers, ...HUB_HEADERS } };
}

/** Matches "/users/{user}/server" against a path; returns the raw parameters or undefined. */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  const match = new RegExp(`^${pattern}/?$`).exec(path);
  if (!match) return undefined;
  return Object.fromEntries(names.map((name, i) => [name, match[i + 1]!]));
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(value);
    } catch {
      throw new ValidationError(`The path segment "${value}" is not valid percent-encoding.`);
    }
    params[name] =
      name === 'user'
        ? normaliseUsername(decoded)
        : name === 'server'
          ? normaliseServerName(decoded)
          : decoded;
  }
  return params;
}

function methodOf(event: HttpApiEvent): string {
  const method = event.requestContext.http.method.toUpperCase();
  return method === 'HEAD' ? 'GET' : method;
}

function notFound(path: string, allowed: string[]): never {
  if (allowed.length) throw new MethodNotAllowedError(path, allowed);
  throw new NotFoundError(
    `There is no API route at ${path}. The routes are listed in ${API_PREFIX}/openapi.json.`,
  );
}

export async function routeApi(deps: ApiDeps, event: HttpApiEvent, path: string): Promise<HttpApiResult> {
  try {
    const method = methodOf(event);
    const allowed: string[] = [];
    for (const [name, handle] of Object.entries(API_ROUTES) as [OperationName, ApiHandlerFn][]) {
      const operation: Operation = OPERATIONS[name];
      const raw = matchPath(operation.path, path);
      if (!raw) continue;
      if (operation.method !== method) {
        allowed.push(operation.method);
        continue;
      }
      if (!operation.scope)
        return await handle(deps, {
          event,
          params: {},
          query: {},
          body: undefined,
          principal: { client: '', scopes: [] },
        });
      const principal = await authenticate(deps, event);
      requireScope(principal, operation.scope);
      const params = decodeParams(raw);
      const request: ApiRequest = {
        event,
        principal,
        params,
        query: operation.query
          ? validate(operation.query, queryOf(event), 'query')
          : validate(EMPTY_QUERY, queryOf(event), 'query'),
        body: operation.body
          ? validate(operation.body as z.ZodType, jsonBody(event) ?? {}, 'body')
          : noBody(event),
      };
      return await handle(deps, request);
    }
    return notFound(path, allowed);
  } catch (error) {
    return errorResult(event, error, deps.core.log);
  }
}

export async function routeHub(deps: ApiDeps, event: HttpApiEvent, path: string): Promise<HttpApiResult> {
  try {
    const method = methodOf(event);
    const allowed: string[] = [];
    for (const route of HUB_ROUTES) {
      const raw = matchPath(route.path, path || '/');
      if (!raw) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const principal = route.public ? { client: '', scopes: [] } : await authenticateHub(deps, event);
      const result = await route.handle(deps, {
        event,
        principal,
        params: decodeParams(raw),
        query: queryOf(event),
        body: undefined,
      });
      return withHubHeaders(result);
    }
    return notFound(`${HUB_PREFIX}${path}`, allowed);
  } catch (error) {
    // JupyterHub's error shape (errorResult picks it by path), with its version header.
    return withHubHeaders(errorResult(event, error, deps.core.log));
  }
}

const EMPTY_QUERY = z.strictObject({});

/** Routes without a body schema refuse a body rather than ignore it. */
function noBody(event: HttpApiEvent): undefined {
  const body = jsonBody(event);
  if (body !== undefined) throw new ValidationError('This route takes no request body.', 'invalid_request');
  return undefined;
}
