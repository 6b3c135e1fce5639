import { LocalMachineClients, type MachineClient } from '../../functions/adapters/local/machine-clients.ts';
import type { ApiScope } from '../../functions/core/api/scopes.ts';
import { startTestLocalMode, type TestLocalMode, type TestLocalModeOptions } from './local-mode.ts';

/**
 * Course-platform (LMS) clients for tests against a real local mode: the same
 * clients.json that `npx hubless clients add NAME --scopes …` writes, and a token from
 * the embedded provider's token endpoint with the client-credentials grant, as an LMS
 * backend gets one.
 *
 * The provider reads clients.json only when local mode starts, so clients are written
 * into the data dir before the start (TestLocalModeOptions.beforeStart).
 */
export type ClientSpecs = Record<string, readonly ApiScope[]>;

export interface LocalModeWithClients {
  local: TestLocalMode;
  /** By the name given in the specs (the client id is that name, normalised). */
  clients: Record<string, MachineClient>;
}

/** Starts local mode with these machine clients registered in its provider. */
export async function startLocalModeWithClients(
  specs: ClientSpecs,
  env: Record<string, string> = {},
  options: TestLocalModeOptions = {},
): Promise<LocalModeWithClients> {
  const clients: Record<string, MachineClient> = {};
  const local = await startTestLocalMode(env, {
    ...options,
    async beforeStart(dataDir) {
      await options.beforeStart?.(dataDir);
      const store = new LocalMachineClients({ dataDir });
      for (const [name, scopes] of Object.entries(specs)) clients[name] = await store.add(name, [...scopes]);
    },
  });
  return { local, clients };
}

/**
 * POST <url>/oidc/token with grant_type=client_credentials and HTTP Basic client
 * authentication (the clients are client_secret_basic). `resource` is optional: the
 * provider defaults client-credentials grants to the API (`<url>/api/v1`). `scope` asks
 * for a subset; by default every scope the client was given.
 */
export async function requestToken(
  url: string,
  client: Pick<MachineClient, 'clientId' | 'clientSecret' | 'scopes'>,
  fields: { scope?: string; resource?: string } = {},
): Promise<Response> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    scope: fields.scope ?? client.scopes.join(' '),
  });
  if (fields.resource) body.set('resource', fields.resource);
  const basic = Buffer.from(
    `${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`,
  ).toString('base64');
  return fetch(`${url}/oidc/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
}

/** A client-credentials access token (a JWT for the API); throws with the provider's answer otherwise. */
export async function clientToken(
  url: string,
  client: Pick<MachineClient, 'clientId' | 'clientSecret' | 'scopes'>,
  fields: { scope?: string; resource?: string } = {},
): Promise<string> {
  const response = await requestToken(url, client, fields);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`The token endpoint answered ${response.status}: ${text}`);
  const { access_token: token, token_type: type } = JSON.parse(text) as {
    access_token?: string;
    token_type?: string;
  };
  if (!token || type?.toLowerCase() !== 'bearer')
    throw new Error(`The token endpoint gave no bearer token: ${text}`);
  return token;
}

/** The claims of a JWT, unverified: for assertions on what the provider issued. */
export function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (!payload) throw new Error('Not a JWT.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}
