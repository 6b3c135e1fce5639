import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KeyFetcher } from '../../functions/adapters/identity/alb-identity.ts';
import {
  createMachineTokenVerifier,
  type MachineTokenOptions,
} from '../../functions/adapters/identity/machine-token.ts';
import { ALL_HUB_SCOPES, API_SCOPES } from '../../functions/core/api/scopes.ts';
import { DependencyTimeoutError, UnauthorizedError } from '../../functions/core/errors.ts';
import type { Directory, User } from '../../functions/core/ports.ts';
import { MemoryDirectory } from '../fakes/fake-parts.ts';

/**
 * The machine API's bearer-token verification (functions/adapters/identity/machine-token.ts),
 * case by case: what a course platform's developer or an administrator reads when a token
 * is refused, and which claims make a client, its scopes, or an administrator.
 */
const ISSUER = 'https://idp.test/hubless';
const JWKS_URI = `${ISSUER}/.well-known/jwks.json`;
const POOL = 'eu-west-1_Abc123';
const COGNITO_ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${POOL}`;
const COGNITO_JWKS = `${COGNITO_ISSUER}/.well-known/jwks.json`;
const KID = 'machine-key-1';

let keys: { privateKey: CryptoKey; publicJwk: Record<string, unknown> };
let otherKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  keys = {
    privateKey: pair.privateKey,
    publicJwk: { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256', use: 'sig' },
  };
  otherKey = (await generateKeyPair('ES256')).privateKey;
});

/** Serves the JWKS at its URIs; counts requests. `fail` makes every request throw it. */
function jwksServer(fail?: Error): KeyFetcher & { requests: string[] } {
  const requests: string[] = [];
  return {
    requests,
    async fetch(uri) {
      requests.push(uri);
      if (fail) throw fail;
      if (uri !== JWKS_URI && uri !== COGNITO_JWKS) throw new Error(`404 ${uri}`);
      return new TextEncoder().encode(JSON.stringify({ keys: [keys.publicJwk] })).buffer as ArrayBuffer;
    },
  };
}

interface TokenOptions {
  issuer?: string;
  kid?: string;
  key?: CryptoKey;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  notBefore?: number;
}

/** A signed access token with exactly these claims (plus iss, iat, exp). */
function token(claims: Record<string, unknown>, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? KID })
    .setIssuer(options.issuer ?? ISSUER)
    .setIssuedAt()
    .setExpirationTime(now + (options.expiresIn ?? 300));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(options.key ?? keys.privateKey);
}

function verifier(options: Partial<MachineTokenOptions> = {}) {
  const fetcher = options.fetcher ?? jwksServer();
  return createMachineTokenVerifier({
    issuer: ISSUER,
    jwksUri: JWKS_URI,
    directory: new MemoryDirectory(),
    fetcher,
    ...options,
  });
}

/** The refusal's message, failing when the token was accepted or refused otherwise. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnauthorizedError);
  return (error as Error).message;
}

describe('machine API tokens', () => {
  describe('configuration', () => {
    it('needs either a Cognito user pool or both an issuer and its JWKS URL, and says so', () => {
      const message = 'createMachineTokenVerifier needs either `cognito` or both `issuer` and `jwksUri`.';
      const directory = new MemoryDirectory();
      expect(() => createMachineTokenVerifier({ directory, issuer: ISSUER })).toThrow(message);
      expect(() => createMachineTokenVerifier({ directory, jwksUri: JWKS_URI })).toThrow(message);
      expect(() => createMachineTokenVerifier({ directory })).toThrow(message);
    });
  });

  describe('refusals a developer can act on', () => {
    it('an expired token, and one not valid yet', async () => {
      const message =
        'The token has expired (or is not valid yet): request a new one with your client credentials.';
      expect(await refusal(verifier().verify(await token({ client_id: 'lms' }, { expiresIn: -60 })))).toBe(
        message,
      );
      expect(await refusal(verifier().verify(await token({ client_id: 'lms' }, { notBefore: 600 })))).toBe(
        message,
      );
    });

    it('a token from another issuer', async () => {
      expect(
        await refusal(verifier().verify(await token({ client_id: 'lms' }, { issuer: 'https://evil.test' }))),
      ).toBe('The token comes from another issuer than this deployment’s identity provider.');
    });

    it('a token signed with another key under a published key id', async () => {
      expect(await refusal(verifier().verify(await token({ client_id: 'lms' }, { key: otherKey })))).toBe(
        'The token’s signature is not valid: it was changed or forged.',
      );
    });

    it('a token whose key id the provider does not publish', async () => {
      expect(
        await refusal(verifier().verify(await token({ client_id: 'lms' }, { kid: 'retired-key' }))),
      ).toBe('The token was signed with a key the identity provider does not publish.');
    });

    it('a token for another audience, naming which claim (never the token itself)', async () => {
      const strict = verifier({ audience: 'hubless-api' });
      const message = await refusal(strict.verify(await token({ client_id: 'lms', aud: 'grades-api' })));
      expect(message).toBe('The token is not for this API (Audience not allowed).');
      expect(message).not.toContain('grades-api');
      await expect(
        strict.verify(await token({ client_id: 'lms', aud: 'hubless-api' })),
      ).resolves.toMatchObject({
        client: 'lms',
      });
    });

    it('accepts a token without an audience when none is configured (local mode’s provider issues none)', async () => {
      await expect(verifier().verify(await token({ client_id: 'lms' }))).resolves.toMatchObject({
        client: 'lms',
      });
    });

    it('something that is not a signed JWT', async () => {
      for (const bearer of ['not-a-jwt', 'a.b.c', '']) {
        expect(await refusal(verifier().verify(bearer))).toBe('The bearer token is not a valid signed JWT.');
      }
    });

    it('a JWKS that cannot be read is the provider’s fault, not the token’s', async () => {
      const outage = new DependencyTimeoutError('The identity provider’s keys did not arrive in time.');
      const error = await verifier({ fetcher: jwksServer(outage) })
        .verify(await token({ client_id: 'lms' }))
        .catch((e: unknown) => e);
      expect(error).toBe(outage);
    });

    it('any other failure while verifying is still a refusal, with a generic reason', async () => {
      const broken = jwksServer(new TypeError('boom'));
      expect(await refusal(verifier({ fetcher: broken }).verify(await token({ client_id: 'lms' })))).toBe(
        'The bearer token could not be verified.',
      );
    });

    it('a token that names no client', async () => {
      expect(await refusal(verifier().verify(await token({ scope: 'hubless/launch' })))).toBe(
        'The token names no client (client_id, azp, aud or sub).',
      );
      expect(await refusal(verifier().fromClaims({ client_id: '', azp: [], aud: [''], sub: 7 }))).toBe(
        'The token names no client (client_id, azp, aud or sub).',
      );
    });
  });

  describe('the client a token names', () => {
    it('is client_id, else azp, else the first audience, else sub; empty values do not count', async () => {
      const v = verifier();
      expect((await v.fromClaims({ client_id: 'canvas', azp: 'x', aud: 'y', sub: 'z' })).client).toBe(
        'canvas',
      );
      expect((await v.fromClaims({ client_id: '', azp: 'moodle', aud: 'y', sub: 'z' })).client).toBe(
        'moodle',
      );
      expect((await v.fromClaims({ aud: ['blackboard', 'other'], sub: 'z' })).client).toBe('blackboard');
      expect((await v.fromClaims({ aud: [''], sub: 'sakai' })).client).toBe('sakai');
      expect((await v.fromClaims({ aud: [42], sub: 'sakai' })).client).toBe('sakai');
      expect((await v.fromClaims({ azp: 'moodle' })).owner).toEqual({ kind: 'service', name: 'moodle' });
    });

    it('on an allow list, only a client_id on it is accepted (azp, aud or sub naming it are not)', async () => {
      const message =
        'The token was issued to a client this API does not accept: use your LMS client, or the admin client for an administrator’s own token.';
      const listed = verifier({ clientIds: ['moodle', 'admin-tool'] });
      expect(await refusal(listed.verify(await token({ client_id: 'canvas' })))).toBe(message);
      expect(await refusal(listed.fromClaims({ azp: 'moodle' }))).toBe(message);
      expect(await refusal(listed.fromClaims({ aud: 'moodle', sub: 'moodle' }))).toBe(message);
      expect(await refusal(listed.fromClaims({ client_id: ['moodle'] }))).toBe(message);
      await expect(listed.verify(await token({ client_id: 'admin-tool' }))).resolves.toMatchObject({
        client: 'admin-tool',
      });
    });

    it('without an allow list, any client of the issuer is accepted', async () => {
      await expect(verifier().verify(await token({ client_id: 'anything' }))).resolves.toMatchObject({
        client: 'anything',
        owner: { kind: 'service', name: 'anything' },
      });
    });
  });

  describe('scopes', () => {
    it('come from `scope` (space-separated) or `scp` (a list), with or without the resource server', async () => {
      const v = verifier();
      expect((await v.fromClaims({ client_id: 'c', scope: 'hubless/servers:read launch' })).scopes).toEqual([
        'servers:read',
        'launch',
      ]);
      const listed = await v.fromClaims({ client_id: 'c', scp: ['hubless/users:read', 7, 'servers'] });
      expect(listed.scopes).toEqual(['users:read', 'servers:read', 'servers:write']);
      expect(listed.hubScopes).toContain('servers');
      // `scope` wins over `scp` when both are there.
      expect((await v.fromClaims({ client_id: 'c', scope: 'launch', scp: ['users:read'] })).scopes).toEqual([
        'launch',
      ]);
    });

    it('a scope claim of another type grants nothing', async () => {
      const principal = await verifier().fromClaims({ client_id: 'c', scope: 42 });
      expect(principal).toEqual({
        client: 'c',
        scopes: [],
        hubScopes: [],
        owner: { kind: 'service', name: 'c' },
      });
    });

    it('are read under the configured resource server, and another server’s prefix grants nothing', async () => {
      const v = verifier({ resourceServer: 'lab-api' });
      expect(
        (await v.fromClaims({ client_id: 'c', scope: 'lab-api/servers:write hubless/users:read' })).scopes,
      ).toEqual(['servers:write']);
    });
  });

  describe('an administrator’s own token', () => {
    /** A Directory that remembers which names it was asked for. */
    function directoryWith(users: User[]): Directory & { asked: string[] } {
      const memory = new MemoryDirectory();
      const asked: string[] = [];
      return Object.assign(Object.create(memory) as Directory, {
        asked,
        get: async (name: string) => {
          asked.push(name);
          return users.find((u) => u.name === name);
        },
      });
    }

    const admin = (extra: Partial<User> = {}): User => ({
      name: 'teacher',
      admin: true,
      disabled: false,
      groups: [],
      createdAt: '2026-01-01T00:00:00.000Z',
      ...extra,
    });

    it('gets every scope, JupyterHub’s too, as the administrator by name', async () => {
      const v = verifier({ directory: directoryWith([admin()]) });
      expect(
        await v.verify(await token({ client_id: 'admin-tool', username: 'teacher', scope: 'openid' })),
      ).toEqual({
        client: 'teacher',
        scopes: [...API_SCOPES],
        admin: 'teacher',
        hubScopes: [...ALL_HUB_SCOPES],
        owner: { kind: 'user', name: 'teacher' },
      });
    });

    it('is found by `cognito:username` too, and by the lower-case name the directory keeps', async () => {
      const directory = directoryWith([admin()]);
      const v = verifier({ directory });
      expect((await v.fromClaims({ client_id: 'admin-tool', 'cognito:username': 'Teacher' })).admin).toBe(
        'teacher',
      );
      expect(directory.asked).toEqual(['teacher']);
    });

    it('a disabled administrator, or a user who is not one, gets only the scopes the token carries', async () => {
      const v = verifier({
        directory: directoryWith([admin({ disabled: true }), admin({ name: 'student', admin: false })]),
      });
      for (const username of ['teacher', 'student', 'nobody']) {
        const principal = await v.fromClaims({
          client_id: 'admin-tool',
          username,
          scope: 'hubless/users:read',
        });
        expect(principal).toEqual({
          client: 'admin-tool',
          scopes: ['users:read'],
          hubScopes: expect.arrayContaining(['list:users']),
          owner: { kind: 'service', name: 'admin-tool' },
        });
        expect(principal.admin).toBeUndefined();
      }
    });
  });

  describe('Cognito', () => {
    const cognito = (clientId?: string) =>
      verifier({
        issuer: undefined,
        jwksUri: undefined,
        cognito: { userPoolId: POOL, ...(clientId ? { clientId } : {}) },
      });

    it('accepts the user pool’s access tokens, its keys fetched from the pool’s JWKS', async () => {
      const fetcher = jwksServer();
      const v = verifier({ issuer: undefined, jwksUri: undefined, cognito: { userPoolId: POOL }, fetcher });
      const accepted = await v.verify(
        await token(
          { client_id: 'lms', token_use: 'access', scope: 'hubless/launch' },
          { issuer: COGNITO_ISSUER },
        ),
      );
      expect(accepted).toMatchObject({ client: 'lms', scopes: ['launch'] });
      expect(fetcher.requests).toEqual([COGNITO_JWKS]);
    });

    it('refuses an ID token (token_use id) and a token of another pool', async () => {
      expect(
        await refusal(
          cognito().verify(await token({ client_id: 'lms', token_use: 'id' }, { issuer: COGNITO_ISSUER })),
        ),
      ).toBe('The token is not for this API (Token use not allowed).');
      expect(
        await refusal(
          cognito().verify(
            await token(
              { client_id: 'lms', token_use: 'access' },
              { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other' },
            ),
          ),
        ),
      ).toBe('The token comes from another issuer than this deployment’s identity provider.');
    });

    it('a token without an issuer is not a signed JWT of any pool (not "another issuer")', async () => {
      const now = Math.floor(Date.now() / 1000);
      const anonymous = await new SignJWT({ client_id: 'lms', token_use: 'access' })
        .setProtectedHeader({ alg: 'ES256', kid: KID })
        .setExpirationTime(now + 300)
        .sign(keys.privateKey);
      expect(await refusal(cognito().verify(anonymous))).toBe('The bearer token is not a valid signed JWT.');
    });

    it('with a client id, refuses the pool’s tokens for other clients', async () => {
      const v = cognito('lms');
      expect(
        await refusal(
          v.verify(await token({ client_id: 'canvas', token_use: 'access' }, { issuer: COGNITO_ISSUER })),
        ),
      ).toBe('The token is not for this API (Client ID not allowed).');
      await expect(
        v.verify(await token({ client_id: 'lms', token_use: 'access' }, { issuer: COGNITO_ISSUER })),
      ).resolves.toMatchObject({ client: 'lms' });
    });
  });
});
