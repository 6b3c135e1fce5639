import { exchangeCode, OAUTH_AUTHORIZE_PATH, OAuthError } from '../../core/api/oauth.ts';
import type { HttpApiResult } from '../http-types.ts';
import { bodyText, emptyResult, header, jsonResult } from './http.ts';
import type { HubRoute } from './hub.ts';

/**
 * /hub/api/oauth2/token, the service's half of JupyterHub's OAuth flow (core/api/oauth.ts).
 * Parameters come form-encoded as HubOAuth sends them, the client's id and secret in the
 * form or as HTTP Basic (RFC 6749 2.3.1). Errors use OAuth's shape, {error,
 * error_description}, which HubOAuth reads into its log.
 */
function oauthErrorResult(error: OAuthError): HttpApiResult {
  return jsonResult(
    error.status,
    { error: error.code, error_description: error.message },
    error.status === 401 ? { 'www-authenticate': 'Basic realm="hubless"' } : {},
  );
}

function basicCredentials(authorization: string | undefined): { id?: string; secret?: string } {
  const match = /^basic\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) return {};
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return {};
  const decode = (text: string) => decodeURIComponent(text.replace(/\+/g, ' '));
  return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
}

export const hubOAuthToken: HubRoute = async (deps, { event }) => {
  try {
    if (!deps.oauth || !deps.serviceTokens)
      throw new OAuthError('unauthorized_client', 'This deployment does not issue OAuth tokens.');
    const form = new URLSearchParams(bodyText(event));
    const basic = basicCredentials(header(event, 'authorization'));
    const field = (name: string) => form.get(name) ?? event.queryStringParameters?.[name] ?? undefined;
    const answer = await exchangeCode(
      { oauth: deps.oauth, serviceTokens: deps.serviceTokens },
      {
        grantType: field('grant_type'),
        code: field('code'),
        redirectUri: field('redirect_uri'),
        clientId: field('client_id') ?? basic.id,
        clientSecret: field('client_secret') ?? basic.secret,
        codeVerifier: field('code_verifier'),
      },
      deps.core.clock.now(),
    );
    // RFC 6749 5.1: tokens are never cached.
    return jsonResult(200, answer, { pragma: 'no-cache' });
  } catch (error) {
    if (error instanceof OAuthError) return oauthErrorResult(error);
    throw error;
  }
};

/**
 * The authorize step belongs to the browsers' address (it needs the user's sign-in). In
 * AWS the API has its own host, so a browser sent here goes there, with its parameters.
 */
export const hubOAuthAuthorizeElsewhere: HubRoute = async (deps, { event }) =>
  emptyResult(302, {
    location: `${deps.publicUrl.replace(/\/+$/, '')}${OAUTH_AUTHORIZE_PATH}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`,
  });
