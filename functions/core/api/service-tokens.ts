import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { NotFoundError, UnauthorizedError, ValidationError } from '../errors.ts';
import { normaliseUsername } from '../username.ts';
import type { MachinePrincipal } from './ports.ts';
import { expandHubScopes, type HubScope, parseHubScopeList } from './scopes.ts';

/**
 * Service tokens: what JupyterHub calls API tokens of a service (or of a user). A service
 * such as jupyterhub-idle-culler reads its token once and runs for weeks, so these do not
 * expire; they end when an administrator revokes them. Only a SHA-256 of each token is
 * stored: the token is shown once, when it is made. Tokens are 256-bit random values, so a
 * plain hash is enough (no salt or stretching as for passwords).
 *
 * They authenticate /hub/api only; course platforms keep their expiring OAuth tokens.
 */
export interface ServiceToken {
  /** Public id, part of the token; shown in lists and used to revoke. */
  id: string;
  /** The service's name (or, with `user`, a label). */
  name: string;
  /** Set for a token that acts as this user (GET /hub/api/user answers with the user). */
  user?: string;
  /** JupyterHub scope names, as granted (not expanded). */
  scopes: HubScope[];
  /** A service that stops servers because they are idle: its stops are recorded as idle culls. */
  culls: boolean;
  /** Set for a service that signs users in with HubOAuth (core/api/oauth.ts): it is an OAuth client. */
  oauth?: OAuthClient;
  /** Hex SHA-256 of the whole token. */
  hash: string;
  createdAt: string;
  /** Who made it: an administrator's name, or "cli". */
  createdBy: string;
}

/**
 * A service's OAuth client registration, JupyterHub's `oauth_redirect_uri` and
 * `oauth_client_allowed_scopes` of a service. Its client id is `service-<name>` and its
 * client secret the service token itself, as HubOAuth sends (client_secret = api_token).
 */
export interface OAuthClient {
  /** Where users are sent back with a code: the only one accepted. */
  redirectUri: string;
  /** Scopes the service may hold on behalf of a signed-in user, beyond knowing who they are. */
  scopes: HubScope[];
}

/** JupyterHub's client id of a service (services.auth: `service-<name>`). */
export function oauthClientId(serviceName: string): string {
  return `service-${serviceName}`;
}

export interface ServiceTokenStore {
  /** Saves a new token record. Ids are random: an existing id is a bug and throws. */
  put(token: ServiceToken): Promise<void>;
  /** The record with this id, or undefined. */
  get(id: string): Promise<ServiceToken | undefined>;
  /** Every record, oldest first. */
  list(): Promise<ServiceToken[]>;
  /** Removes the record; false when there was none. */
  delete(id: string): Promise<boolean>;
}

const PREFIX = 'hbs_';
const TOKEN_PATTERN = /^hbs_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** True for a string shaped like a service token (JWTs never are). */
export function looksLikeServiceToken(token: string): boolean {
  return token.startsWith(PREFIX);
}

export function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewServiceToken {
  name: string;
  scopes: readonly string[];
  user?: string;
  culls?: boolean;
  /** Makes the service an OAuth client that sends users back to this URI (absolute, or a path on this host). */
  oauthRedirectUri?: string;
  /** With oauthRedirectUri: what the service may hold for a signed-in user (default: identity only). */
  oauthScopes?: readonly string[];
  createdBy: string;
}

/**
 * Checks an OAuth registration: the redirect URI is an http(s) URL or a path on this
 * host (JupyterHub allows both), without a fragment (RFC 6749 3.1.2), and the scopes are
 * ones hubless serves.
 */
function oauthClientOf(request: NewServiceToken): OAuthClient | undefined {
  const uri = request.oauthRedirectUri?.trim();
  if (!uri) {
    if (request.oauthScopes?.length)
      throw new ValidationError(
        'OAuth scopes need an OAuth redirect URI: add --oauth-redirect-uri (the service’s oauth_callback URL).',
        'invalid_oauth_client',
      );
    return undefined;
  }
  const bad = (why: string) =>
    new ValidationError(
      `"${uri}" is not a usable OAuth redirect URI: ${why}, e.g. https://dash.example.edu/services/dash/oauth_callback.`,
      'invalid_oauth_client',
    );
  if (uri.includes('#')) throw bad('it must not have a #fragment');
  if (uri.startsWith('/')) {
    if (uri.startsWith('//')) throw bad('a path must start with a single "/"');
  } else {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw bad('give an http(s) URL or a path on this host');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad('it must be http(s)');
  }
  if (request.user)
    throw new ValidationError(
      'A token that acts as a user cannot be an OAuth client: register the service without --user.',
      'invalid_oauth_client',
    );
  return { redirectUri: uri, scopes: parseHubScopeList(request.oauthScopes ?? []) };
}

/** Makes a token, stores its hash, and returns the token (shown once) with its record. */
export async function createServiceToken(
  store: ServiceTokenStore,
  request: NewServiceToken,
  now: Date,
): Promise<{ token: string; record: ServiceToken }> {
  const name = request.name.trim().toLowerCase();
  if (!NAME_PATTERN.test(name))
    throw new ValidationError(
      `"${request.name}" is not a usable token name: use lowercase letters, digits and hyphens (up to 63), e.g. "idle-culler".`,
      'invalid_name',
    );
  const scopes = parseHubScopeList(request.scopes);
  const oauth = oauthClientOf(request);
  if (oauth && (await store.list()).some((t) => t.oauth && t.name === name))
    throw new ValidationError(
      `The service "${name}" is already an OAuth client (client id ${oauthClientId(name)}): revoke its token first (hubless tokens revoke ${name}).`,
      'duplicate_oauth_client',
    );
  if (scopes.length === 0 && !request.user && !oauth)
    throw new ValidationError(
      'A service token needs at least one scope, e.g. list:users,read:users:activity,read:servers,delete:servers for jupyterhub-idle-culler.',
      'invalid_scope',
    );
  const id = randomBytes(6).toString('hex');
  const token = `${PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  const record: ServiceToken = {
    id,
    name,
    ...(request.user ? { user: normaliseUsername(request.user) } : {}),
    scopes,
    culls: request.culls ?? false,
    ...(oauth ? { oauth } : {}),
    hash: hashOf(token),
    createdAt: now.toISOString(),
    createdBy: request.createdBy,
  };
  await store.put(record);
  return { token, record };
}

/** The record a presented token belongs to; UnauthorizedError for anything else. */
export async function verifyServiceToken(store: ServiceTokenStore, token: string): Promise<ServiceToken> {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) throw new UnauthorizedError('The token is not a hubless service token (hbs_…).');
  const record = await store.get(match[1]!);
  const presented = Buffer.from(hashOf(token), 'hex');
  if (!record || !timingSafeEqual(presented, Buffer.from(record.hash, 'hex')))
    throw new UnauthorizedError(
      'The service token is unknown or was revoked: ask an administrator for a new one (hubless tokens create).',
    );
  return record;
}

/** The principal of a service token's request. */
export function principalOf(record: ServiceToken): MachinePrincipal {
  return {
    client: record.user ?? `service:${record.name}`,
    // Service tokens speak only /hub/api: no hubless (/api/v1) scopes.
    scopes: [],
    hubScopes: expandHubScopes(record.scopes),
    owner: record.user ? { kind: 'user', name: record.user } : { kind: 'service', name: record.name },
    tokenId: record.id,
    culls: record.culls,
  };
}

export async function revokeServiceToken(
  store: ServiceTokenStore,
  idOrName: string,
): Promise<ServiceToken[]> {
  const all = await store.list();
  const matching = all.filter((t) => t.id === idOrName || t.name === idOrName);
  if (matching.length === 0)
    throw new NotFoundError(`There is no service token with the id or name "${idOrName}".`, 'unknown_token');
  for (const token of matching) await store.delete(token.id);
  return matching;
}

/** A record without its hash, for lists. */
export function tokenView(record: ServiceToken) {
  return {
    id: record.id,
    name: record.name,
    user: record.user ?? null,
    scopes: record.scopes,
    culls: record.culls,
    oauth_client_id: record.oauth ? oauthClientId(record.name) : null,
    oauth_redirect_uri: record.oauth?.redirectUri ?? null,
    oauth_scopes: record.oauth?.scopes ?? null,
    created_at: record.createdAt,
    created_by: record.createdBy,
  };
}
