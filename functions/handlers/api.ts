import type { ApiDeps } from './api/context.ts';
import { API_PREFIX, HUB_PREFIX, jsonResult, requestPath } from './api/http.ts';
import { routeApi, routeHub } from './api/routes.ts';
import type { HttpApiEvent, HttpApiResult } from './http-types.ts';

export type { ApiDeps } from './api/context.ts';

/**
 * The machine API for course platforms (/api/v1) and JupyterHub-compatible clients
 * (/hub/api), behind API Gateway's HTTP API in AWS (its JWT authorizer has checked the
 * token) and behind the local gateway in local mode (this handler checks it).
 */
export function makeApiHandler(deps: ApiDeps): (event: HttpApiEvent) => Promise<HttpApiResult> {
  return async (event) => {
    const path = requestPath(event);
    if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`))
      return routeApi(deps, event, path.slice(API_PREFIX.length));
    if (path === HUB_PREFIX || path.startsWith(`${HUB_PREFIX}/`))
      return routeHub(deps, event, path.slice(HUB_PREFIX.length));
    return jsonResult(404, { error: { code: 'not_found', message: `There is no API route at ${path}.` } });
  };
}
