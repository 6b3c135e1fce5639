/**
 * Scopes of the machine API (OAuth 2.0 client credentials). A course platform's client
 * is granted some of these; every route needs one. Cognito prefixes custom scopes with
 * its resource server ("hubless/users:read"), other providers send them bare: both
 * forms count. JupyterHub clients (jupyterhub-idle-culler, hub-aware tools) ask in
 * JupyterHub's scope names, which map onto ours.
 */
export const API_SCOPES = ['users:read', 'users:write', 'servers:read', 'servers:write', 'launch'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export const DEFAULT_RESOURCE_SERVER = 'hubless';

/** JupyterHub scope -> the hubless scopes it stands for (JupyterHub's docs: "Scopes in JupyterHub"). */
export const JUPYTERHUB_SCOPES: Record<string, readonly ApiScope[]> = {
  'list:users': ['users:read'],
  'read:users': ['users:read'],
  'admin:users': ['users:read', 'users:write'],
  servers: ['servers:read', 'servers:write'],
  'read:servers': ['servers:read'],
  'delete:servers': ['servers:write'],
  'users:activity': ['servers:write'],
};

function isApiScope(value: string): value is ApiScope {
  return (API_SCOPES as readonly string[]).includes(value);
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
  const raw = typeof granted === 'string' ? granted.split(/\s+/) : (granted ?? []);
  const prefix = `${resourceServer}/`;
  const scopes = new Set<ApiScope>();
  for (const item of raw) {
    const name = item.startsWith(prefix) ? item.slice(prefix.length) : item;
    if (isApiScope(name)) scopes.add(name);
    for (const mapped of JUPYTERHUB_SCOPES[name] ?? []) scopes.add(mapped);
  }
  return API_SCOPES.filter((scope) => scopes.has(scope));
}
