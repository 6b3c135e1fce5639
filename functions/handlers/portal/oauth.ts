import { authorize } from '../../core/api/oauth.ts';
import { NotFoundError } from '../../core/errors.ts';
import { queryParam, redirect } from '../http.ts';
import type { AlbEvent, AlbResult } from '../http-types.ts';
import type { PortalDeps } from './context.ts';

/**
 * GET /hub/api/oauth2/authorize — where a HubOAuth service sends a browser to sign its
 * user in (core/api/oauth.ts). The front door has already signed the user in (the
 * ALB's Cognito sign-in, or the local gateway's), so the portal only checks the request
 * and sends the browser back to the service with a code and the service's state. An
 * untrusted client or redirect_uri is shown as an error page, never followed.
 */
export async function oauthAuthorizeRoute(
  deps: PortalDeps,
  { event, user }: { event: AlbEvent; user: { name: string; admin: boolean } },
): Promise<AlbResult> {
  if (!deps.oauth)
    throw new NotFoundError('This deployment does not sign users in to services (no OAuth store).');
  const param = (name: string) => queryParam(event, name);
  const location = await authorize(
    deps.oauth,
    {
      clientId: param('client_id'),
      redirectUri: param('redirect_uri'),
      responseType: param('response_type'),
      state: param('state'),
      scope: param('scope'),
      codeChallenge: param('code_challenge'),
      codeChallengeMethod: param('code_challenge_method'),
    },
    user,
    deps.core.clock.now(),
  );
  return redirect(location, 302);
}
