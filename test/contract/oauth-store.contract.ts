import { describe, expect, it } from 'vitest';
import type { OAuthAccessToken, OAuthCode, OAuthStore } from '../../functions/core/api/oauth.ts';

/** The OAuthStore contract (functions/core/api/oauth.ts), run against every adapter. */

const NOW = 1_800_000_000;
const code = (overrides: Partial<OAuthCode> = {}): OAuthCode => ({
  codeHash: `c${Math.random().toString(16).slice(2)}`,
  clientTokenId: 'a1b2c3d4e5f6',
  user: 'ada',
  scopes: ['read:servers'],
  redirectUri: 'https://dash.example.edu/oauth_callback',
  codeChallenge: 'challenge',
  codeChallengeMethod: 'S256',
  createdAt: new Date(NOW * 1000).toISOString(),
  expiresAt: NOW + 300,
  ...overrides,
});
const token = (overrides: Partial<OAuthAccessToken> = {}): OAuthAccessToken => ({
  id: Math.random().toString(16).slice(2, 18).padEnd(16, '0'),
  hash: 'ab'.repeat(32),
  clientTokenId: 'a1b2c3d4e5f6',
  service: 'dash',
  user: 'ada',
  scopes: [],
  createdAt: new Date(NOW * 1000).toISOString(),
  expiresAt: NOW + 14 * 86_400,
  ...overrides,
});

export function describeOAuthStoreContract(name: string, factory: () => Promise<OAuthStore>): void {
  describe(`${name} (OAuthStore contract)`, () => {
    it('keeps a code, reads it back by its hash, and refuses a second with the same hash', async () => {
      const store = await factory();
      const saved = code();
      await store.putCode(saved);
      expect(await store.getCode(saved.codeHash)).toEqual(saved);
      expect(await store.getCode('unknown')).toBeUndefined();
      await expect(store.putCode(saved)).rejects.toMatchObject({ code: 'conflict' });
    });

    it('uses a code once under concurrency, recording the token it gave', async () => {
      const store = await factory();
      const saved = code();
      await store.putCode(saved);
      const results = await Promise.all(
        ['t1', 't2', 't3', 't4'].map((id) => store.useCode(saved.codeHash, id, 'at', NOW)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const used = await store.getCode(saved.codeHash);
      expect(used?.usedAt).toBe('at');
      expect(['t1', 't2', 't3', 't4'][results.indexOf(true)]).toBe(used?.accessTokenId);
    });

    it('does not use an expired or unknown code', async () => {
      const store = await factory();
      const saved = code({ expiresAt: NOW });
      await store.putCode(saved);
      expect(await store.useCode(saved.codeHash, 't', 'at', NOW)).toBe(false);
      expect(await store.useCode('unknown', 't', 'at', NOW)).toBe(false);
      expect((await store.getCode(saved.codeHash))?.usedAt).toBeUndefined();
    });

    it('keeps access tokens by id and deletes them idempotently', async () => {
      const store = await factory();
      const saved = token();
      await store.putToken(saved);
      expect(await store.getToken(saved.id)).toEqual(saved);
      await expect(store.putToken(saved)).rejects.toMatchObject({ code: 'conflict' });
      await store.deleteToken(saved.id);
      await store.deleteToken(saved.id);
      expect(await store.getToken(saved.id)).toBeUndefined();
    });
  });
}
