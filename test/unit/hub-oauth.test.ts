import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  authorize,
  exchangeCode,
  OAUTH_TOKEN_SECONDS,
  OAuthError,
  verifyOAuthToken,
} from '../../functions/core/api/oauth.ts';
import { createServiceToken } from '../../functions/core/api/service-tokens.ts';
import { MemoryOAuthStore } from '../fakes/api-stores.ts';
import { MemoryServiceTokenStore } from '../fakes/memory-service-tokens.ts';

/**
 * The OAuth rules of core/api/oauth.ts without HTTP (test/integration/hub-oauth.test.ts
 * plays the whole flow over HTTP): which scopes a signed-in user passes on, PKCE, the
 * errors that go back to the service, and token lifetime.
 */
const NOW = new Date('2026-12-01T10:00:00Z');
const CALLBACK = 'https://dash.example.edu/services/dash/oauth_callback';

async function setup(oauthScopes: string[] = []) {
  const deps = { oauth: new MemoryOAuthStore(), serviceTokens: new MemoryServiceTokenStore() };
  const { token: secret } = await createServiceToken(
    deps.serviceTokens,
    { name: 'dash', scopes: [], oauthRedirectUri: CALLBACK, oauthScopes, createdBy: 'test' },
    NOW,
  );
  const request = { clientId: 'service-dash', redirectUri: CALLBACK, responseType: 'code', state: 'st' };
  const exchange = (code: string, extra: Record<string, string> = {}, at = NOW) =>
    exchangeCode(
      deps,
      {
        grantType: 'authorization_code',
        code,
        redirectUri: CALLBACK,
        clientId: 'service-dash',
        clientSecret: secret,
        ...extra,
      },
      at,
    );
  return { deps, secret, request, exchange };
}

function params(location: string): URLSearchParams {
  expect(location.startsWith(`${CALLBACK}?`)).toBe(true);
  return new URL(location).searchParams;
}

describe('OAuth client registration (hubless tokens create --oauth-redirect-uri)', () => {
  it('refuses redirect URIs a browser could be sent anywhere with, saying what is wrong', async () => {
    const store = new MemoryServiceTokenStore();
    const make = (uri: string) =>
      createServiceToken(store, { name: 'x', scopes: [], oauthRedirectUri: uri, createdBy: 't' }, NOW);
    await expect(make('javascript:alert(1)')).rejects.toThrow(/must be http\(s\)/);
    await expect(make('https://a.example/cb#frag')).rejects.toThrow(/#fragment/);
    await expect(make('//evil.example/cb')).rejects.toThrow(/single "\/"/);
    await expect(make('not a url')).rejects.toThrow(/http\(s\) URL or a path/);
    await expect(
      createServiceToken(
        store,
        { name: 'x', scopes: [], oauthScopes: ['read:servers'], createdBy: 't' },
        NOW,
      ),
    ).rejects.toThrow(/--oauth-redirect-uri/);
  });

  it('keeps one client per service name', async () => {
    const { deps } = await setup();
    await expect(
      createServiceToken(
        deps.serviceTokens,
        { name: 'dash', scopes: [], oauthRedirectUri: CALLBACK, createdBy: 't' },
        NOW,
      ),
    ).rejects.toThrow(/already an OAuth client \(client id service-dash\)/);
  });
});

describe('authorize', () => {
  it('passes the state back with the code and stores only the code’s hash', async () => {
    const { deps, request } = await setup();
    const back = params(await authorize(deps, request, { name: 'ada', admin: false }, NOW));
    expect(back.get('state')).toBe('st');
    const code = back.get('code')!;
    const [stored] = [...deps.oauth.codes.values()];
    expect(stored?.codeHash).toBe(createHash('sha256').update(code).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(code);
  });

  it('sends errors the service can read back to the registered URI, with the state', async () => {
    const { deps, request } = await setup();
    const wrongType = params(
      await authorize(deps, { ...request, responseType: 'token' }, { name: 'ada', admin: false }, NOW),
    );
    expect(wrongType.get('error')).toBe('unsupported_response_type');
    expect(wrongType.get('state')).toBe('st');
    expect(wrongType.get('code')).toBeNull();
    const badScope = params(
      await authorize(deps, { ...request, scope: 'read:everything' }, { name: 'ada', admin: false }, NOW),
    );
    expect(badScope.get('error')).toBe('invalid_scope');
    expect(badScope.get('error_description')).toContain('"read:everything"');
  });

  it('grants an administrator what the service may have, and a user only their identity', async () => {
    const { deps, request, exchange } = await setup(['read:servers']);
    const grant = async (user: { name: string; admin: boolean }, scope?: string) => {
      const back = params(await authorize(deps, { ...request, ...(scope ? { scope } : {}) }, user, NOW));
      return (await exchange(back.get('code')!)).scope;
    };
    expect(await grant({ name: 'root', admin: true })).toBe('read:servers');
    // Asked for more than the service may have: only what it may have.
    expect(await grant({ name: 'root', admin: true }, 'read:servers admin:servers')).toBe('read:servers');
    expect(await grant({ name: 'root', admin: true }, 'identify')).toBe('');
    expect(await grant({ name: 'ada', admin: false })).toBe('');
  });
});

describe('token exchange and access tokens', () => {
  it('checks PKCE: S256 verifier must match the challenge', async () => {
    const { deps, request, exchange } = await setup();
    const verifier = 'a-verifier-of-the-service-with-enough-entropy-1234';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code = () =>
      authorize(
        deps,
        { ...request, codeChallenge: challenge, codeChallengeMethod: 'S256' },
        { name: 'ada', admin: false },
        NOW,
      ).then((l) => params(l).get('code')!);
    await expect(exchange(await code())).rejects.toThrow(/code_verifier does not match/);
    await expect(exchange(await code(), { codeVerifier: 'wrong' })).rejects.toThrow(/PKCE/);
    expect((await exchange(await code(), { codeVerifier: verifier })).token_type).toBe('Bearer');
  });

  it('refuses other grant types and a missing secret with OAuth error codes', async () => {
    const { exchange } = await setup();
    await expect(exchange('x', { grantType: 'client_credentials' })).rejects.toMatchObject({
      code: 'unsupported_grant_type',
      status: 400,
    });
    await expect(exchange('x', { clientSecret: '' })).rejects.toMatchObject({
      code: 'invalid_client',
      status: 401,
    });
    await expect(exchange('x', { clientId: 'service-other' })).rejects.toBeInstanceOf(OAuthError);
    await expect(exchange('unknown')).rejects.toThrow(/unknown to hubless/);
  });

  it('identifies the user for 14 days, then refuses the token as expired', async () => {
    const { deps, request, exchange } = await setup();
    const back = params(await authorize(deps, request, { name: 'ada', admin: false }, NOW));
    const { access_token: token, expires_in } = await exchange(back.get('code')!);
    expect(expires_in).toBe(OAUTH_TOKEN_SECONDS);
    const principal = await verifyOAuthToken(deps, token, NOW);
    expect(principal).toMatchObject({ owner: { kind: 'user', name: 'ada' }, scopes: [] });
    const later = new Date(NOW.getTime() + OAUTH_TOKEN_SECONDS * 1000);
    await expect(verifyOAuthToken(deps, token, later)).rejects.toThrow(/expired/);
    await expect(verifyOAuthToken(deps, `${token.slice(0, -1)}x`, NOW)).rejects.toThrow(
      /unknown or was revoked/,
    );
  });
});
