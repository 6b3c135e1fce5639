import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityVerifier, type KeyFetcher } from '../../functions/adapters/identity/alb-identity.ts';
import { UnauthorizedError, ValidationError } from '../../functions/core/errors.ts';
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
