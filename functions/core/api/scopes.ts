import { ValidationError } from '../errors.ts';

/**
 * Scopes of the machine API (OAuth 2.0 client credentials). A course platform's client
 * is granted some of these; every route needs one. Cognito prefixes custom scopes with
 * its resource server ("hubless/users:read"), other providers send them bare: both
 * forms count.
 *
 * /hub/api checks JupyterHub's own scope names instead (see HUB_SCOPES below): service
 * tokens carry them, and a client's hubless scopes imply some of them.
 */
export const API_SCOPES = [
  'users:read',
  'users:write',
  'servers:read',
  'servers:write',
  'launch',
  // Announce classes to come (POST /api/v1/capacity): the pool makes room ahead of them.
  'capacity',
] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export const DEFAULT_RESOURCE_SERVER = 'hubless';

/**
 * The JupyterHub scopes hubless understands, each with the scopes it includes: JupyterHub's
 * scope hierarchy (jupyterhub/scopes.py, JupyterHub 5.5), cut to what /hub/api serves.
 * `users:activity` includes no server control, so an activity reporter cannot start or
 * stop anything.
 */
export const HUB_SCOPES = {
  'admin:users': ['users', 'delete:users'],
  users: ['read:users', 'list:users', 'users:activity'],
  'delete:users': [],
  'list:users': ['read:users:name'],
  'read:users': ['read:users:name', 'read:users:groups', 'read:users:activity'],
  'read:users:name': [],
  'read:users:groups': [],
  'read:users:activity': [],
  'users:activity': ['read:users:activity'],
  'admin:servers': ['servers'],
  servers: ['read:servers', 'delete:servers'],
  'read:servers': ['read:users:name'],
  'delete:servers': [],
} as const satisfies Record<string, readonly string[]>;
export type HubScope = keyof typeof HUB_SCOPES;

export function isHubScope(value: string): value is HubScope {
  return Object.hasOwn(HUB_SCOPES, value);
}

/** A scope with every scope it includes, recursively. */
export function expandHubScopes(scopes: Iterable<string>): HubScope[] {
  const seen = new Set<HubScope>();
  const visit = (scope: string) => {
    if (!isHubScope(scope) || seen.has(scope)) return;
    seen.add(scope);
    for (const sub of HUB_SCOPES[scope]) visit(sub);
  };
  for (const scope of scopes) visit(scope);
  return (Object.keys(HUB_SCOPES) as HubScope[]).filter((scope) => seen.has(scope));
}

/**
 * What a client's hubless scopes allow on /hub/api. `servers:write` keeps activity
 * reports (a platform that starts servers may say they are in use); the reverse does not
 * hold: `users:activity` grants no hubless scope at all.
 */
const HUB_SCOPES_OF_API_SCOPE: Record<ApiScope, readonly HubScope[]> = {
  'users:read': ['list:users', 'read:users'],
  'users:write': ['users'],
  'servers:read': ['read:servers'],
  'servers:write': ['servers', 'users:activity'],
  launch: [],
  capacity: [],
};

/** JupyterHub scope -> the hubless scopes it stands for on /api/v1 (JupyterHub's docs: "Scopes in JupyterHub"). */
const API_SCOPES_OF_HUB_SCOPE: Partial<Record<HubScope, readonly ApiScope[]>> = {
  'list:users': ['users:read'],
  'read:users': ['users:read'],
  users: ['users:read', 'users:write'],
  'admin:users': ['users:read', 'users:write'],
  servers: ['servers:read', 'servers:write'],
  'admin:servers': ['servers:read', 'servers:write'],
  'read:servers': ['servers:read'],
};

function isApiScope(value: string): value is ApiScope {
  return (API_SCOPES as readonly string[]).includes(value);
}

function scopeNames(granted: string | readonly string[] | undefined, resourceServer: string): string[] {
  const raw = typeof granted === 'string' ? granted.split(/\s+/) : (granted ?? []);
  const prefix = `${resourceServer}/`;
  return raw.filter(Boolean).map((item) => (item.startsWith(prefix) ? item.slice(prefix.length) : item));
}

/**
 * The hubless scopes a token grants. Accepts a space-separated `scope` claim or a list;
 * strips `<resourceServer>/`; maps JupyterHub names; ignores everything else (openid,
 * email, another resource server's scopes).
 */
export function normaliseScopes(
  granted: string | readonly string[] | undefined,
  resourceServer = DEFAULT_RESOURCE_SERVER,
): ApiScope[] {
  const scopes = new Set<ApiScope>();
  for (const name of scopeNames(granted, resourceServer)) {
    if (isApiScope(name)) scopes.add(name);
    if (isHubScope(name)) for (const mapped of API_SCOPES_OF_HUB_SCOPE[name] ?? []) scopes.add(mapped);
  }
  return API_SCOPES.filter((scope) => scopes.has(scope));
}

/** The JupyterHub scopes (expanded) a token's `scope` claim grants on /hub/api. */
export function grantedHubScopes(
  granted: string | readonly string[] | undefined,
  resourceServer = DEFAULT_RESOURCE_SERVER,
): HubScope[] {
  const names = scopeNames(granted, resourceServer);
  return expandHubScopes(
    names.flatMap((name): readonly string[] => (isApiScope(name) ? HUB_SCOPES_OF_API_SCOPE[name] : [name])),
  );
}

/** Every JupyterHub scope hubless serves (an administrator's token). */
export const ALL_HUB_SCOPES: readonly HubScope[] = Object.keys(HUB_SCOPES) as HubScope[];

/**
 * Checks scopes someone asks a service token to carry: JupyterHub names that hubless
 * serves, without filters (hubless grants scopes on every user or none).
 */
export function parseHubScopeList(scopes: readonly string[]): HubScope[] {
  const problems: string[] = [];
  for (const scope of scopes) {
    if (scope.includes('!'))
      problems.push(
        `"${scope}" has a filter; hubless grants scopes on all users (drop "!${scope.split('!')[1]}")`,
      );
    else if (!isHubScope(scope)) problems.push(`"${scope}" is not a JupyterHub scope hubless serves`);
  }
  if (problems.length)
    throw new ValidationError(
      `${problems.join('; ')}. Scopes are JupyterHub's names: ${ALL_HUB_SCOPES.join(', ')}.`,
      'invalid_scope',
    );
  return [...new Set(scopes as HubScope[])];
}
