import type { TokenBody } from '../../core/api/schemas.ts';
import { createServiceToken, revokeServiceToken, tokenView } from '../../core/api/service-tokens.ts';
import { ForbiddenError } from '../../core/errors.ts';
import type { ApiDeps, ApiHandlerFn, ApiRequest } from './context.ts';
import { emptyResult, jsonResult } from './http.ts';

/**
 * /api/v1/tokens: service tokens for JupyterHub services (the idle culler, dashboards),
 * the admin API behind `hubless tokens` (which local mode also offers on the command
 * line). Only an administrator's own token may use it: a course platform's client, even
 * with users:write, cannot mint tokens.
 */
function storeFor(deps: ApiDeps, { principal }: ApiRequest) {
  if (!principal.admin)
    throw new ForbiddenError(
      'Only an administrator’s own token may manage service tokens (a course platform’s client may not).',
      'admin_only',
    );
  if (!deps.serviceTokens)
    throw new ForbiddenError('This deployment has no service token store.', 'no_tokens');
  return deps.serviceTokens;
}

export const listTokensRoute: ApiHandlerFn = async (deps, request) =>
  jsonResult(200, { items: (await storeFor(deps, request).list()).map(tokenView) });

export const createTokenRoute: ApiHandlerFn = async (deps, request) => {
  const { oauth_redirect_uri, oauth_scopes, ...body } = request.body as TokenBody;
  const { token, record } = await createServiceToken(
    storeFor(deps, request),
    {
      ...body,
      ...(oauth_redirect_uri ? { oauthRedirectUri: oauth_redirect_uri } : {}),
      ...(oauth_scopes ? { oauthScopes: oauth_scopes } : {}),
      createdBy: request.principal.admin!,
    },
    deps.core.clock.now(),
  );
  return jsonResult(201, { ...tokenView(record), token });
};

export const revokeTokenRoute: ApiHandlerFn = async (deps, request) => {
  await revokeServiceToken(storeFor(deps, request), request.params.token!);
  return emptyResult(204);
};
