import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMachineTokenVerifier } from '../../functions/adapters/identity/machine-token.ts';
import { DependencyTimeoutError } from '../../functions/core/errors.ts';
import { makeTokenIssuer, type TokenIssuer } from '../fakes/api-harness.ts';
import { MemoryDirectory } from '../fakes/fake-parts.ts';

// The local-mode path: the handler fetches the issuer's JWKS over plain HTTP on 127.0.0.1
// with the default fetcher (aws-jwt-verify's own speaks HTTPS only).
describe('machine tokens with a JWKS served over HTTP', () => {
  let issuer: TokenIssuer;
  let served: { jwksUri: string; close(): Promise<void> };
  beforeAll(async () => {
    issuer = await makeTokenIssuer('http://127.0.0.1/oidc');
    served = await issuer.serve();
  });
  afterAll(async () => {
    await served.close();
  });

  it('verifies a client-credentials token against the served keys', async () => {
    const verifier = createMachineTokenVerifier({
      issuer: issuer.issuer,
      jwksUri: served.jwksUri,
      directory: new MemoryDirectory(),
    });
    await expect(
      verifier.verify(await issuer.token({ client_id: 'moodle', scope: 'hubless/launch' })),
    ).resolves.toEqual({
      client: 'moodle',
      scopes: ['launch'],
      hubScopes: [],
      owner: { kind: 'service', name: 'moodle' },
    });
    await expect(verifier.verify(await issuer.forged({ scope: 'hubless/launch' }))).rejects.toThrow(
      /signature/,
    );
  });

  it('says the key server is unreachable instead of calling the token invalid', async () => {
    const verifier = createMachineTokenVerifier({
      issuer: issuer.issuer,
      jwksUri: 'http://127.0.0.1:9/jwks.json',
      directory: new MemoryDirectory(),
    });
    await expect(verifier.verify(await issuer.token())).rejects.toBeInstanceOf(DependencyTimeoutError);
  });
});
