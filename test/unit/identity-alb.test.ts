import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createIdentityVerifier,
  httpKeyFetcher,
  type KeyFetcher,
} from '../../functions/adapters/identity/alb-identity.ts';
import { DependencyTimeoutError, UnauthorizedError, ValidationError } from '../../functions/core/errors.ts';
import { UnlinkedFederatedIdentityError } from '../../functions/core/federation.ts';
import {
  type IdentitySigner,
  LOCAL_SIGNER_ARN,
  loadOrCreateIdentitySigner,
} from '../../functions/local/identity-signer.ts';

const ISSUER = 'http://127.0.0.1:9999/oidc';
const CLIENT = 'hubless-gateway';
const KEYS_URL = 'http://keys.test/.hubless/alb-keys';

/** Serves the signer's PEM by kid, like the ALB key server; counts requests. */
function keyServer(signer: IdentitySigner): KeyFetcher & { requests: string[] } {
  const requests: string[] = [];
  return {
    requests,
    async fetch(uri) {
      requests.push(uri);
      if (uri === `${KEYS_URL}/${signer.kid}`)
        return new TextEncoder().encode(signer.publicKeyPem).buffer as ArrayBuffer;
      throw new Error(`404 ${uri}`);
    },
  };
}

describe('ALB identity', () => {
  let dataDir: string;
  let signer: IdentitySigner;
  let fetcher: ReturnType<typeof keyServer>;
  const verifier = () =>
    createIdentityVerifier({
      signer: LOCAL_SIGNER_ARN,
      issuer: ISSUER,
      clientId: CLIENT,
      keysUrl: KEYS_URL,
      fetcher,
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hubless-identity-'));
    signer = await loadOrCreateIdentitySigner(dataDir, { issuer: ISSUER, clientId: CLIENT });
    fetcher = keyServer(signer);
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('loadOrCreateIdentitySigner', () => {
    it('keeps the same key id across restarts so running labs keep verifying', async () => {
      const again = await loadOrCreateIdentitySigner(dataDir, { issuer: ISSUER, clientId: CLIENT });
      expect(again.kid).toBe(signer.kid);
      expect(again.publicKeyPem).toBe(signer.publicKeyPem);
      expect(signer.kid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    it('stores the private key readable by its owner only', async () => {
      const info = await stat(join(dataDir, 'gateway', 'identity-key.json'));
      expect(info.mode & 0o777).toBe(0o600);
    });

    it('signs with the ALB header fields', async () => {
      const token = await signer.sign({ sub: 'alice', username: 'alice', email: 'a@example.org' });
      const header = JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[0] ?? '')));
      expect(header).toMatchObject({
        alg: 'ES256',
        typ: 'JWT',
        kid: signer.kid,
        signer: LOCAL_SIGNER_ARN,
        iss: ISSUER,
        client: CLIENT,
      });
      expect(header.exp).toBeGreaterThan(Date.now() / 1000);
    });
  });

  describe('verify', () => {
    it('returns the identity of a valid header', async () => {
      const token = await signer.sign({ sub: 'alice', username: 'Alice', email: 'alice@example.org' });
      await expect(verifier().verify(token)).resolves.toEqual({
        username: 'alice',
        sub: 'alice',
        email: 'alice@example.org',
      });
      expect(fetcher.requests).toContain(`${KEYS_URL}/${signer.kid}`);
    });

    it('refuses a request without the header', async () => {
      await expect(verifier().verify(undefined)).rejects.toBeInstanceOf(UnauthorizedError);
      await expect(verifier().verify('')).rejects.toThrow(/Sign in/);
    });

    it('refuses an expired header and says to sign in again', async () => {
      const token = await signer.sign({ sub: 'alice', username: 'alice' }, -30);
      await expect(verifier().verify(token)).rejects.toThrow(/expired/);
      await expect(verifier().verify(token)).rejects.toBeInstanceOf(UnauthorizedError);
    });

    it('refuses a header whose signature was forged with another key', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const exp = Math.floor(Date.now() / 1000) + 60;
      const forged = await new SignJWT({ sub: 'bob', username: 'bob', exp, iss: ISSUER })
        .setProtectedHeader({
          alg: 'ES256',
          typ: 'JWT',
          kid: signer.kid,
          signer: LOCAL_SIGNER_ARN,
          iss: ISSUER,
          client: CLIENT,
          exp,
        })
        .sign(privateKey);
      const error = await verifier()
        .verify(forged)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as Error).message).toMatch(/signature/);
    });

    it('refuses a payload swapped under a genuine signature', async () => {
      const token = await signer.sign({ sub: 'alice', username: 'alice' });
      const [h, , s] = token.split('.');
      const exp = Math.floor(Date.now() / 1000) + 60;
      const payload = base64url.encode(JSON.stringify({ sub: 'bob', username: 'bob', exp, iss: ISSUER }));
      await expect(verifier().verify(`${h}.${payload}.${s}`)).rejects.toBeInstanceOf(UnauthorizedError);
    });

    it('refuses a header signed by another load balancer', async () => {
      const other = await loadOrCreateIdentitySigner(dataDir, {
        issuer: ISSUER,
        clientId: CLIENT,
        signerArn:
          'arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/other/1111111111111111',
      });
      const error = await verifier()
        .verify(await other.sign({ sub: 'alice', username: 'alice' }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as Error).message).toMatch(/load balancer/);
    });

    it('refuses a header issued for another client', async () => {
      const other = await loadOrCreateIdentitySigner(dataDir, { issuer: ISSUER, clientId: 'someone-else' });
      const error = await verifier()
        .verify(await other.sign({ sub: 'alice', username: 'alice' }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as Error).message).toMatch(/another application/);
    });

    it('refuses an unsigned header (alg none)', async () => {
      const exp = Math.floor(Date.now() / 1000) + 60;
      const header = base64url.encode(
        JSON.stringify({
          alg: 'none',
          typ: 'JWT',
          kid: signer.kid,
          signer: LOCAL_SIGNER_ARN,
          iss: ISSUER,
          client: CLIENT,
          exp,
        }),
      );
      const payload = base64url.encode(JSON.stringify({ sub: 'bob', username: 'bob', exp, iss: ISSUER }));
      await expect(verifier().verify(`${header}.${payload}.`)).rejects.toBeInstanceOf(UnauthorizedError);
    });

    it('refuses garbage without echoing it', async () => {
      const error = await verifier()
        .verify('not-a-jwt<script>')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as Error).message).not.toContain('not-a-jwt');
    });

    it('refuses a key id the key server does not know', async () => {
      const stranger = await loadOrCreateIdentitySigner(
        await mkdtemp(join(tmpdir(), 'hubless-identity-other-')),
        { issuer: ISSUER, clientId: CLIENT },
      );
      await expect(
        verifier().verify(await stranger.sign({ sub: 'alice', username: 'alice' })),
      ).rejects.toBeInstanceOf(UnauthorizedError);
    });

    it('answers 400 with the username rule when the name cannot be a hubless key', async () => {
      const token = await signer.sign({ sub: 'x1', username: 'alice@example.org' });
      const error = await verifier()
        .verify(token)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).status).toBe(400);
      expect((error as Error).message).toMatch(/letters a-z/);
    });

    it('refuses Cognito’s <provider>_<id> name of an unlinked federated user, with its claims for the portal to explain', async () => {
      const token = await signer.sign({ sub: 'x2', username: 'University_u-9', email: 'jane@uni.example' });
      const error = await verifier()
        .verify(token)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnlinkedFederatedIdentityError);
      expect(error).toMatchObject({
        status: 403,
        code: 'federated_not_linked',
        cognitoUsername: 'University_u-9',
      });
      expect((error as UnlinkedFederatedIdentityError).claims).toMatchObject({ email: 'jane@uni.example' });
    });

    it('accepts any of several signers and clients', async () => {
      const v = createIdentityVerifier({
        signer: [
          'arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/a/1',
          LOCAL_SIGNER_ARN,
        ],
        issuer: ISSUER,
        clientId: ['x', CLIENT],
        keysUrl: KEYS_URL,
        fetcher,
      });
      await expect(v.verify(await signer.sign({ sub: 'bob', username: 'bob' }))).resolves.toMatchObject({
        username: 'bob',
      });
    });
  });
});

/**
 * Tokens made by hand with a key of the test's own, served by kid like the ALB's key
 * server: for claims the local signer never writes (no sub, an odd email, nbf).
 */
describe('ALB identity: what the verified claims must hold, and every refusal in words', () => {
  const KID = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
  let key: CryptoKey;
  let pem: string;
  let requests: string[];
  const fetcher: KeyFetcher = {
    async fetch(uri) {
      requests.push(uri);
      if (uri === `${KEYS_URL}/${KID}`) return new TextEncoder().encode(pem).buffer as ArrayBuffer;
      throw new Error(`404 ${uri}`);
    },
  };
  const verifier = (options: Partial<Parameters<typeof createIdentityVerifier>[0]> = {}) =>
    createIdentityVerifier({
      signer: LOCAL_SIGNER_ARN,
      issuer: ISSUER,
      clientId: CLIENT,
      keysUrl: KEYS_URL,
      fetcher,
      ...options,
    });
  const craft = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    return new SignJWT({ exp, iss: ISSUER, ...claims })
      .setProtectedHeader({
        alg: 'ES256',
        typ: 'JWT',
        kid: KID,
        signer: LOCAL_SIGNER_ARN,
        iss: ISSUER,
        client: CLIENT,
        exp,
        ...header,
      })
      .sign(key);
  };

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    key = pair.privateKey;
    pem = await exportSPKI(pair.publicKey);
  });
  beforeEach(() => {
    requests = [];
    vi.unstubAllGlobals();
  });
  afterAll(() => vi.unstubAllGlobals());

  it('takes the e-mail only when it is a non-empty string', async () => {
    await expect(
      verifier().verify(await craft({ sub: 's1', username: 'ann', email: 'ann@example.org' })),
    ).resolves.toStrictEqual({ username: 'ann', sub: 's1', email: 'ann@example.org' });
    for (const email of ['', 42, ['a@b.c'], null])
      await expect(
        verifier().verify(await craft({ sub: 's1', username: 'ann', email })),
      ).resolves.toStrictEqual({
        username: 'ann',
        sub: 's1',
      });
  });

  it('refuses an identity without a subject or a user name, and says to sign in again', async () => {
    for (const claims of [
      { username: 'ann' },
      { sub: '', username: 'ann' },
      { sub: 's1' },
      { sub: 's1', username: 7 },
    ])
      await expect(verifier().verify(await craft(claims)), JSON.stringify(claims)).rejects.toThrow(
        new UnauthorizedError('The sign-in identity has no user name; sign in again.'),
      );
  });

  it('says which check failed, in words a user can act on', async () => {
    const cases: Array<[string, Promise<string>, string]> = [
      [
        'no header',
        Promise.resolve(''),
        'Sign in first: this request carries no identity from the load balancer.',
      ],
      [
        'expired',
        craft(
          { sub: 's1', username: 'ann', exp: Math.floor(Date.now() / 1000) - 60 },
          { exp: Math.floor(Date.now() / 1000) - 60 },
        ),
        'Your sign-in has expired: reload the page to sign in again.',
      ],
      [
        'not yet valid',
        craft({ sub: 's1', username: 'ann', nbf: Math.floor(Date.now() / 1000) + 600 }),
        'Your sign-in has expired: reload the page to sign in again.',
      ],
      [
        'another load balancer',
        craft(
          { sub: 's1', username: 'ann' },
          { signer: 'arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/x/1' },
        ),
        'The identity was not signed by this deployment’s load balancer.',
      ],
      [
        'another client',
        craft({ sub: 's1', username: 'ann' }, { client: 'someone-else' }),
        'The identity was issued for another application.',
      ],
      [
        'another issuer',
        craft({ sub: 's1', username: 'ann', iss: 'https://elsewhere.example/oidc' }),
        'The identity comes from another identity provider.',
      ],
      ['garbage', Promise.resolve('not-a-jwt'), 'The identity is not a valid signed token.'],
    ];
    for (const [what, token, message] of cases)
      await expect(verifier().verify(await token), what).rejects.toThrow(new UnauthorizedError(message));
    const forged = await craft({ sub: 's1', username: 'ann' });
    const [h, p] = forged.split('.');
    const other = (await craft({ sub: 's1', username: 'bob' })).split('.')[2];
    await expect(verifier().verify(`${h}.${p}.${other}`)).rejects.toThrow(
      new UnauthorizedError('The identity’s signature is not valid: it was changed or forged.'),
    );
  });

  it('any other failure while verifying is still a refusal, with a generic reason', async () => {
    const broken: KeyFetcher = {
      fetch: async () => {
        throw new RangeError('boom');
      },
    };
    await expect(
      verifier({ fetcher: broken }).verify(await craft({ sub: 's1', username: 'ann' })),
    ).rejects.toThrow(new UnauthorizedError('The identity could not be verified.'));
  });

  it('fetches keys under the configured key URL, whatever its trailing slashes', async () => {
    const token = await craft({ sub: 's1', username: 'ann' });
    await expect(verifier({ keysUrl: `${KEYS_URL}//` }).verify(token)).resolves.toMatchObject({
      username: 'ann',
    });
    expect(requests).toEqual([`${KEYS_URL}/${KID}`]);
  });

  describe('httpKeyFetcher (plain HTTP keys of local mode)', () => {
    const answer = (status: number, body: string | null = null) =>
      vi.fn(async (_uri: string, _init?: RequestInit) => new Response(body, { status }));
    const viaHttp = () => verifier({ fetcher: httpKeyFetcher(500) });

    it('fetches the key by kid, refusing redirects, with a timeout', async () => {
      const fetchMock = answer(200, pem);
      vi.stubGlobal('fetch', fetchMock);
      await expect(viaHttp().verify(await craft({ sub: 's1', username: 'ann' }))).resolves.toMatchObject({
        username: 'ann',
      });
      expect(fetchMock).toHaveBeenCalledWith(`${KEYS_URL}/${KID}`, {
        signal: expect.any(AbortSignal),
        redirect: 'error',
      });
    });

    it('a 4xx from the key server means a key it does not know: refused', async () => {
      for (const status of [400, 404, 499]) {
        vi.stubGlobal('fetch', answer(status));
        await expect(
          viaHttp().verify(await craft({ sub: 's1', username: 'ann' })),
          String(status),
        ).rejects.toThrow(
          new UnauthorizedError('The identity was signed with a key this deployment does not know.'),
        );
      }
    });

    it('a 5xx or no answer is the key server failing: try again, not a forgery', async () => {
      for (const status of [500, 503]) {
        vi.stubGlobal('fetch', answer(status, 'busy'));
        const error = await viaHttp()
          .verify(await craft({ sub: 's1', username: 'ann' }))
          .catch((e: unknown) => e);
        expect(error, String(status)).toBeInstanceOf(DependencyTimeoutError);
        expect((error as Error).message).toBe(
          `The identity key server at http://keys.test answered ${status}; try again shortly.`,
        );
      }
      vi.stubGlobal(
        'fetch',
        vi.fn(async () => {
          throw new TypeError('fetch failed');
        }),
      );
      const error = await viaHttp()
        .verify(await craft({ sub: 's1', username: 'ann' }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyTimeoutError);
      expect((error as Error).message).toBe(
        'The identity key server at http://keys.test did not answer within 500 ms. Check that the gateway (local mode) is running, or that the function can reach the internet (AWS mode: a NAT gateway or the ELB public-keys endpoint).',
      );
      // The network error is kept for the logs.
      expect((error as Error).cause).toEqual(new TypeError('fetch failed'));
    });

    it('a 5xx without a body is still the key server failing', async () => {
      vi.stubGlobal('fetch', answer(502));
      const error = await viaHttp()
        .verify(await craft({ sub: 's1', username: 'ann' }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyTimeoutError);
      expect((error as Error).message).toBe(
        'The identity key server at http://keys.test answered 502; try again shortly.',
      );
    });
  });
});
