import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HublessError, UnauthorizedError } from '../errors.ts';
import type { MachinePrincipal } from './ports.ts';
import { ALL_HUB_SCOPES, expandHubScopes, type HubScope, isHubScope } from './scopes.ts';
import {
  hashOf,
  type OAuthClient,
  oauthClientId,
  type ServiceToken,
  type ServiceTokenStore,
  verifyServiceToken,
} from './service-tokens.ts';

/**
 * JupyterHub's OAuth 2.0 provider (jupyterhub/oauth/provider.py, apihandlers/auth.py), so
 * that services using HubOAuth (jupyterhub/services/auth.py) sign users in through
 * hubless: the authorization-code grant of RFC 6749, with PKCE (RFC 7636) when the
 * service sends a challenge, as HubOAuth 6 does.
 *
 * 1. The browser opens GET /hub/api/oauth2/authorize?client_id&redirect_uri&state
 *    &response_type=code at the front door, which signs the user in first; hubless sends
 *    it back to the registered redirect_uri with `code` and `state`.
 * 2. The service POSTs the code to /hub/api/oauth2/token with client_id and
 *    client_secret (its service token, as HubOAuth sends its api_token) and gets an
 *    access token for that user.
 * 3. GET /hub/api/user with that token answers who the user is.
 *
 * Clients are service tokens registered with a redirect URI (service-tokens.ts). Like
 * JupyterHub, codes live 5 minutes and work once; hubless stores only their SHA-256, and
 * access tokens' too. An access token ends when it expires (JupyterHub's default
 * oauth_token_expires_in, 14 days) or when its service's token is revoked. There is no
 * consent page: an administrator registered the service, as JupyterHub's
 * oauth_no_confirm does for admin-managed services.
 */

/**
 * JupyterHub's authorize URL (HubOAuth's oauth_authorization_url): under /hub/api, but a
 * page a browser opens with its sign-in, so the front door signs the user in and the
 * portal answers; the token URL is an API route.
 */
export const OAUTH_AUTHORIZE_PATH = '/hub/api/oauth2/authorize';

/** JupyterHub: "oauth has 5 minutes to complete". */
export const OAUTH_CODE_SECONDS = 300;
/** JupyterHub's oauth_token_expires_in default: cookie_max_age_days (14) in seconds. */
export const OAUTH_TOKEN_SECONDS = 14 * 86_400;

export interface OAuthCode {
  /** Hex SHA-256 of the code; the code itself is only in the redirect. */
  codeHash: string;
  /** The id of the service token that is the client. */
  clientTokenId: string;
  user: string;
  scopes: HubScope[];
  /** The redirect_uri the authorize request named, which the token request must repeat. */
  redirectUri?: string;
  codeChallenge?: string;
  codeChallengeMethod?: 'S256' | 'plain';
  createdAt: string;
  /** Epoch seconds; also the DynamoDB TTL. */
  expiresAt: number;
  usedAt?: string;
  /** The access token the code was exchanged for (revoked if the code is replayed). */
  accessTokenId?: string;
}

export interface OAuthAccessToken {
  /** Public id, part of the token. */
  id: string;
  /** Hex SHA-256 of the whole token. */
  hash: string;
  clientTokenId: string;
  /** The service's name. */
  service: string;
  user: string;
  scopes: HubScope[];
  createdAt: string;
  /** Epoch seconds; also the DynamoDB TTL. */
  expiresAt: number;
}

/** Codes and access tokens (contract: test/contract/oauth-store.contract.ts). */
export interface OAuthStore {
  /** Saves a new code. Codes are random: an existing one is a bug and throws. */
  putCode(code: OAuthCode): Promise<void>;
  /** The code with this hash, used or expired ones included (callers say why it fails). */
  getCode(codeHash: string): Promise<OAuthCode | undefined>;
  /**
   * Marks the code used for `accessTokenId`, atomically: only if it exists, is unused and
   * has not expired at `nowSeconds`. True for the one caller that marked it.
   */
  useCode(codeHash: string, accessTokenId: string, usedAt: string, nowSeconds: number): Promise<boolean>;
  /** Saves a new access token. */
  putToken(token: OAuthAccessToken): Promise<void>;
  /** The access token with this id, expired ones included; undefined when unknown. */
  getToken(id: string): Promise<OAuthAccessToken | undefined>;
  /** Removes the access token (idempotent). */
  deleteToken(id: string): Promise<void>;
}

export interface OAuthDeps {
  oauth: OAuthStore;
  serviceTokens: ServiceTokenStore;
}

/**
 * An OAuth error (RFC 6749 4.1.2.1, 5.2): `code` is the standard error code a client
 * reads, the message says what was wrong and how to fix it. `fatal` ones are shown to the
 * user, never sent to an unchecked redirect_uri.
 */
export class OAuthError extends HublessError {
  readonly fatal: boolean;
  constructor(code: string, reason: string, options: { status?: number; fatal?: boolean } = {}) {
    super(code, options.status ?? (code === 'invalid_client' ? 401 : 400), reason);
    this.fatal = options.fatal ?? false;
  }
}

const ACCESS_PREFIX = 'hbo_';
const ACCESS_PATTERN = /^hbo_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** True for a string shaped like an OAuth access token hubless issued. */
export function looksLikeOAuthToken(token: string): boolean {
  return token.startsWith(ACCESS_PREFIX);
}

export interface AuthorizeRequest {
  clientId?: string;
  redirectUri?: string;
  responseType?: string;
  state?: string;
  /** Space-separated JupyterHub scopes; absent: what the service may have. */
  scope?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

/** The signed-in user, as the front door identified them. */
export interface OAuthUser {
  name: string;
  admin: boolean;
}

async function clientById(serviceTokens: ServiceTokenStore, clientId: string | undefined) {
  if (!clientId)
    throw new OAuthError(
      'invalid_request',
      'The sign-in link has no client_id: the service sent a broken link.',
      {
        fatal: true,
      },
    );
  const record = (await serviceTokens.list()).find((t) => t.oauth && oauthClientId(t.name) === clientId);
  if (!record?.oauth)
    throw new OAuthError(
      'invalid_client',
      `No service is registered with the OAuth client id "${clientId}". An administrator registers one with: hubless tokens create NAME --oauth-redirect-uri URL.`,
      { status: 400, fatal: true },
    );
  return record as ServiceToken & { oauth: OAuthClient };
}

/** Adds query parameters to a redirect URI, keeping the ones it has. */
function withParams(uri: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, value);
  return `${uri}${uri.includes('?') ? '&' : '?'}${query}`;
}

/**
 * What a signed-in user lets the service hold: what it asked for (or, when it asked for
 * nothing, what it may have), within what it may have and what the user may do. hubless
 * grants scopes on all users or none, so only an administrator passes any on; every
 * token may still read its own user (GET /hub/api/user). "identify" is JupyterHub's old
 * name for that and grants nothing more.
 */
function grantedScopes(client: OAuthClient, requested: string | undefined, user: OAuthUser): HubScope[] {
  const names = (requested ?? '').split(/\s+/).filter((s) => s && s !== 'identify' && s !== '(no_scope)');
  const unknown = names.filter((s) => !isHubScope(s));
  if (unknown.length)
    throw new OAuthError(
      'invalid_scope',
      `hubless serves no scope named ${unknown.map((s) => `"${s}"`).join(', ')} (scopes are JupyterHub's names, without filters).`,
    );
  const allowed = new Set(expandHubScopes(client.scopes));
  const userScopes = new Set<HubScope>(user.admin ? ALL_HUB_SCOPES : []);
  // Only "identify" asked for: identity only, as in JupyterHub; nothing asked for: the client's scopes.
  const wanted = requested?.trim() ? (names as HubScope[]) : client.scopes;
  return [...new Set(wanted)].filter((s) => allowed.has(s) && userScopes.has(s));
}

/**
 * The authorize step for a signed-in user: where to send the browser (the service's
 * redirect_uri with code and state, or with an error the service can read). Throws a
 * fatal OAuthError when the client or the redirect_uri cannot be trusted.
 */
export async function authorize(
  deps: OAuthDeps,
  request: AuthorizeRequest,
  user: OAuthUser,
  now: Date,
): Promise<string> {
  const client = await clientById(deps.serviceTokens, request.clientId);
  const registered = client.oauth.redirectUri;
  if (request.redirectUri !== undefined && request.redirectUri !== registered)
    throw new OAuthError(
      'invalid_request',
      `The redirect_uri "${request.redirectUri}" is not the one registered for the service "${client.name}" (${registered}). The service's oauth_redirect_uri and its registration must match.`,
      { fatal: true },
    );
  const back = (params: Record<string, string | undefined>) =>
    withParams(registered, { ...params, state: request.state });
  try {
    if (request.responseType !== 'code')
      throw new OAuthError(
        'unsupported_response_type',
        `response_type must be "code" (the authorization-code grant), not "${request.responseType ?? ''}".`,
      );
    const method = request.codeChallengeMethod ?? (request.codeChallenge ? 'plain' : undefined);
    if (method !== undefined && method !== 'S256' && method !== 'plain')
      throw new OAuthError(
        'invalid_request',
        `code_challenge_method must be S256 or plain, not "${method}".`,
      );
    if (method && !request.codeChallenge)
      throw new OAuthError('invalid_request', 'code_challenge_method was sent without a code_challenge.');
    const code = randomBytes(32).toString('base64url');
    await deps.oauth.putCode({
      codeHash: hashOf(code),
      clientTokenId: client.id,
      user: user.name,
      scopes: grantedScopes(client.oauth, request.scope, user),
      ...(request.redirectUri !== undefined ? { redirectUri: request.redirectUri } : {}),
      ...(request.codeChallenge
        ? { codeChallenge: request.codeChallenge, codeChallengeMethod: method as 'S256' | 'plain' }
        : {}),
      createdAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + OAUTH_CODE_SECONDS,
    });
    return back({ code });
  } catch (error) {
    if (error instanceof OAuthError && !error.fatal)
      return back({ error: error.code, error_description: error.message });
    throw error;
  }
}

export interface TokenRequest {
  grantType?: string;
  code?: string;
  redirectUri?: string;
  clientId?: string;
  clientSecret?: string;
  codeVerifier?: string;
}

/** What the token endpoint answers (RFC 6749 5.1), as JupyterHub's oauthlib does. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** The client a token request authenticates as: its secret is the service's token. */
async function authenticateClient(deps: OAuthDeps, request: TokenRequest): Promise<ServiceToken> {
  const refuse = () =>
    new OAuthError(
      'invalid_client',
      'client_id and client_secret do not match a registered OAuth client: the secret is the service’s hubless token (HubOAuth sends JUPYTERHUB_API_TOKEN), the id service-<name>.',
    );
  if (!request.clientId || !request.clientSecret) throw refuse();
  let record: ServiceToken;
  try {
    record = await verifyServiceToken(deps.serviceTokens, request.clientSecret);
  } catch (error) {
    if (error instanceof UnauthorizedError) throw refuse();
    throw error;
  }
  if (!record.oauth || oauthClientId(record.name) !== request.clientId) throw refuse();
  return record;
}

function verifierMatches(code: OAuthCode, verifier: string | undefined): boolean {
  if (!code.codeChallenge) return true;
  if (!verifier) return false;
  const expected =
    code.codeChallengeMethod === 'S256'
      ? createHash('sha256').update(verifier).digest('base64url')
      : verifier;
  const a = Buffer.from(expected);
  const b = Buffer.from(code.codeChallenge);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token step: a code (once, within 5 minutes, by the client it was issued to) for an access token. */
export async function exchangeCode(
  deps: OAuthDeps,
  request: TokenRequest,
  now: Date,
): Promise<TokenResponse> {
  if (request.grantType !== 'authorization_code')
    throw new OAuthError(
      'unsupported_grant_type',
      `grant_type must be "authorization_code", not "${request.grantType ?? ''}".`,
    );
  const client = await authenticateClient(deps, request);
  if (!request.code) throw new OAuthError('invalid_request', 'The token request has no code.');
  const codeHash = hashOf(request.code);
  const code = await deps.oauth.getCode(codeHash);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (!code || code.clientTokenId !== client.id)
    throw new OAuthError(
      'invalid_grant',
      'The code is unknown to hubless (or was issued to another service).',
    );
  if (code.usedAt) {
    // RFC 6749 4.1.2: a replayed code revokes what it was exchanged for.
    if (code.accessTokenId) await deps.oauth.deleteToken(code.accessTokenId);
    throw new OAuthError(
      'invalid_grant',
      'The code was already used: a code works once. The access token it gave is revoked; sign the user in again.',
    );
  }
  if (code.expiresAt <= nowSeconds)
    throw new OAuthError(
      'invalid_grant',
      `The code has expired: codes work for ${OAUTH_CODE_SECONDS / 60} minutes after sign-in. Sign the user in again.`,
    );
  if (code.redirectUri !== undefined && request.redirectUri !== code.redirectUri)
    throw new OAuthError(
      'invalid_grant',
      `redirect_uri must be the one of the authorization request (${code.redirectUri}), not "${request.redirectUri ?? ''}".`,
    );
  if (!verifierMatches(code, request.codeVerifier))
    throw new OAuthError(
      'invalid_grant',
      'The code_verifier does not match the code_challenge of the authorization request (PKCE).',
    );
  const id = randomBytes(8).toString('hex');
  const token = `${ACCESS_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  if (!(await deps.oauth.useCode(codeHash, id, now.toISOString(), nowSeconds)))
    throw new OAuthError('invalid_grant', 'The code was already used: a code works once.');
  await deps.oauth.putToken({
    id,
    hash: hashOf(token),
    clientTokenId: client.id,
    service: client.name,
    user: code.user,
    scopes: code.scopes,
    createdAt: now.toISOString(),
    expiresAt: nowSeconds + OAUTH_TOKEN_SECONDS,
  });
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: OAUTH_TOKEN_SECONDS,
    scope: code.scopes.join(' '),
  };
}

/**
 * The principal of a request with an access token: the signed-in user, with the scopes
 * they granted the service. Refused once expired or once the service's token is revoked.
 */
export async function verifyOAuthToken(deps: OAuthDeps, token: string, now: Date): Promise<MachinePrincipal> {
  const match = ACCESS_PATTERN.exec(token);
  const record = match ? await deps.oauth.getToken(match[1]!) : undefined;
  const presented = Buffer.from(hashOf(token), 'hex');
  if (!record || !timingSafeEqual(presented, Buffer.from(record.hash, 'hex')))
    throw new UnauthorizedError(
      'The OAuth access token is unknown or was revoked: sign in to the service again.',
    );
  if (record.expiresAt <= Math.floor(now.getTime() / 1000))
    throw new UnauthorizedError('The OAuth access token has expired: sign in to the service again.');
  const client = await deps.serviceTokens.get(record.clientTokenId);
  if (!client?.oauth)
    throw new UnauthorizedError(
      `The service "${record.service}" that holds this token is no longer registered (its token was revoked).`,
    );
  return {
    client: record.user,
    scopes: [],
    hubScopes: expandHubScopes(record.scopes),
    owner: { kind: 'user', name: record.user },
    tokenId: record.id,
  };
}
