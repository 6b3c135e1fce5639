import { describe, expect, it } from 'vitest';
import { createMachineTokenVerifier } from '../../functions/adapters/identity/machine-token.ts';
import { grantedHubScopes, normaliseScopes } from '../../functions/core/api/scopes.ts';
import { UnauthorizedError } from '../../functions/core/errors.ts';
import { makeTokenIssuer } from '../fakes/api-harness.ts';
import { MemoryDirectory } from '../fakes/fake-parts.ts';

describe('machine tokens', () => {
  describe('normaliseScopes', () => {
    it('accepts bare and Cognito-prefixed scopes and ignores foreign ones', () => {
      expect(normaliseScopes('openid hubless/users:read servers:write other/launch email')).toEqual([
        'users:read',
        'servers:write',
      ]);
    });
    it('maps JupyterHub scope names onto ours', () => {
      expect(normaliseScopes(['list:users', 'servers'])).toEqual([
        'users:read',
        'servers:read',
        'servers:write',
      ]);
      expect(normaliseScopes('read:servers')).toEqual(['servers:read']);
    });
    it('gives nothing on /api/v1 for users:activity or delete:servers (an activity reporter cannot start servers)', () => {
      expect(normaliseScopes('users:activity')).toEqual([]);
      expect(normaliseScopes('delete:servers')).toEqual([]);
    });
  });

  describe('grantedHubScopes', () => {
    it('expands JupyterHub scopes by JupyterHub’s hierarchy', () => {
      expect(grantedHubScopes('servers')).toEqual([
        'read:users:name',
        'servers',
        'read:servers',
        'delete:servers',
      ]);
    });
    it('keeps users:activity to activity only', () => {
      expect(grantedHubScopes('users:activity')).toEqual(['read:users:activity', 'users:activity']);
    });
    it('maps a platform’s hubless scopes onto JupyterHub’s', () => {
      expect(grantedHubScopes('hubless/servers:write')).toContain('delete:servers');
      expect(grantedHubScopes('hubless/users:read')).toEqual(
        expect.arrayContaining(['list:users', 'read:users', 'read:users:activity']),
      );
      expect(grantedHubScopes('hubless/users:read')).not.toContain('servers');
    });
  });

  describe('verify', () => {
    const setup = async () => {
      const issuer = await makeTokenIssuer();
      const directory = new MemoryDirectory();
      const verifier = createMachineTokenVerifier({
        issuer: issuer.issuer,
        jwksUri: issuer.jwksUri,
        directory,
        fetcher: issuer.fetcher,
      });
      return { issuer, directory, verifier };
    };

    it('returns the client and its scopes for a client-credentials token', async () => {
      const { issuer, verifier } = await setup();
      const principal = await verifier.verify(
        await issuer.token({ client_id: 'canvas', scope: 'hubless/servers:read hubless/launch' }),
      );
      expect(principal).toEqual({
        client: 'canvas',
        scopes: ['servers:read', 'launch'],
        hubScopes: ['read:users:name', 'read:servers'],
        owner: { kind: 'service', name: 'canvas' },
      });
      expect(issuer.fetcher.requests).toEqual([issuer.jwksUri]);
    });

    it('gives every scope to an administrator’s own token', async () => {
      const { issuer, directory, verifier } = await setup();
      await directory.upsert({ name: 'teacher', admin: true });
      const principal = await verifier.verify(await issuer.token({ username: 'teacher', scope: 'openid' }));
      expect(principal.admin).toBe('teacher');
      expect(principal.scopes).toEqual([
        'users:read',
        'users:write',
        'servers:read',
        'servers:write',
        'launch',
        'capacity',
      ]);
    });

    it('gives a non-admin user’s token only the scopes it carries', async () => {
      const { issuer, directory, verifier } = await setup();
      await directory.upsert({ name: 'student' });
      expect(
        (await verifier.verify(await issuer.token({ username: 'student', scope: 'openid' }))).scopes,
      ).toEqual([]);
    });

    it('refuses expired, forged and foreign tokens with a reason', async () => {
      const { issuer, verifier } = await setup();
      await expect(
        verifier.verify(await issuer.token({}, { expiresIn: Math.floor(Date.now() / 1000) - 60 })),
      ).rejects.toThrow(/expired/);
      await expect(verifier.verify(await issuer.forged())).rejects.toThrow(/signature/);
      await expect(verifier.verify(await issuer.token({}, { issuer: 'https://evil.test' }))).rejects.toThrow(
        /another issuer/,
      );
      await expect(verifier.verify('not-a-jwt')).rejects.toBeInstanceOf(UnauthorizedError);
    });

    it('refuses a client that is not on the allow list', async () => {
      const { issuer, directory } = await setup();
      const verifier = createMachineTokenVerifier({
        issuer: issuer.issuer,
        jwksUri: issuer.jwksUri,
        directory,
        fetcher: issuer.fetcher,
        clientIds: ['moodle'],
      });
      await expect(verifier.verify(await issuer.token({ client_id: 'canvas' }))).rejects.toThrow(/client/);
      await expect(verifier.verify(await issuer.token({ client_id: 'moodle' }))).resolves.toMatchObject({
        client: 'moodle',
      });
    });
  });

  describe('fromClaims', () => {
    it('applies the scope rules to claims API Gateway already validated', async () => {
      const issuer = await makeTokenIssuer();
      const verifier = createMachineTokenVerifier({
        issuer: issuer.issuer,
        jwksUri: issuer.jwksUri,
        directory: new MemoryDirectory(),
        fetcher: issuer.fetcher,
      });
      await expect(
        verifier.fromClaims({ client_id: 'canvas', scope: 'hubless/users:write' }),
      ).resolves.toMatchObject({ client: 'canvas', scopes: ['users:write'] });
      expect(issuer.fetcher.requests).toEqual([]);
    });
  });
});
