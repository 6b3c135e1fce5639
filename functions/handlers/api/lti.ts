import type { LtiPlatformBody, LtiPlatformQuery } from '../../core/api/schemas.ts';
import { ForbiddenError } from '../../core/errors.ts';
import type { LtiPlatform } from '../../core/lti/ports.ts';
import { listLtiPlatforms, registerLtiPlatform, removeLtiPlatform } from '../../core/lti/registration.ts';
import type { ApiDeps, ApiHandlerFn, ApiRequest } from './context.ts';
import { emptyResult, jsonResult } from './http.ts';

/**
 * /api/v1/lti/platforms: LMS registrations for LTI 1.3, the admin API behind `hubless lti`
 * (local mode's command line; the only way on AWS). Only an administrator's own token may
 * use it: a registration decides who may create users by launching, so a course
 * platform's client, even with users:write, cannot add one.
 */
function platformsFor(deps: ApiDeps, { principal }: ApiRequest) {
  if (!principal.admin)
    throw new ForbiddenError(
      'Only an administrator’s own token may manage LMS registrations (a course platform’s client may not).',
      'admin_only',
    );
  if (!deps.ltiPlatforms)
    throw new ForbiddenError('This deployment has no LTI registration store.', 'no_lti');
  return deps.ltiPlatforms;
}

function platformView(platform: LtiPlatform) {
  return {
    issuer: platform.issuer,
    client_id: platform.clientId,
    deployment_ids: platform.deploymentIds,
    jwks_url: platform.jwksUrl,
    auth_url: platform.authUrl,
    username_claim: platform.usernameClaim ?? null,
    created_at: platform.createdAt,
  };
}

export const listLtiPlatformsRoute: ApiHandlerFn = async (deps, request) =>
  jsonResult(200, { items: (await listLtiPlatforms(platformsFor(deps, request))).map(platformView) });

export const putLtiPlatformRoute: ApiHandlerFn = async (deps, request) => {
  const body = request.body as LtiPlatformBody;
  const { platform, created } = await registerLtiPlatform(
    platformsFor(deps, request),
    {
      issuer: body.issuer,
      clientId: body.client_id,
      deploymentIds: body.deployment_ids,
      jwksUrl: body.jwks_url,
      authUrl: body.auth_url,
      ...(body.username_claim !== undefined ? { usernameClaim: body.username_claim } : {}),
    },
    deps.core.clock.now(),
  );
  return jsonResult(created ? 201 : 200, platformView(platform));
};

export const removeLtiPlatformRoute: ApiHandlerFn = async (deps, request) => {
  const { issuer, client_id } = request.query as LtiPlatformQuery;
  await removeLtiPlatform(platformsFor(deps, request), issuer, client_id);
  return emptyResult(204);
};
