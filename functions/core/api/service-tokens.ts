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
  /** Hex SHA-256 of the whole token. */
  hash: string;
  createdAt: string;
  /** Who made it: an administrator's name, or "cli". */
  createdBy: string;
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

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewServiceToken {
  name: string;
  scopes: readonly string[];
  user?: string;
  culls?: boolean;
  createdBy: string;
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
  if (scopes.length === 0 && !request.user)
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
    created_at: record.createdAt,
    created_by: record.createdBy,
  };
}
