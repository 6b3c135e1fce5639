import { describe, expect, it } from 'vitest';
import type { LtiLogin, LtiReplayGuard } from '../../functions/core/lti/ports.ts';

/**
 * The LtiReplayGuard contract (functions/core/lti/ports.ts), run against every adapter:
 * a login's state and an id_token's nonce each work once, also when requests race.
 * `factory` gets the clock the guard must read.
 */
export function describeLtiReplayGuardContract(
  name: string,
  factory: (now: () => number) => Promise<LtiReplayGuard>,
): void {
  describe(`${name} (LtiReplayGuard contract)`, () => {
    const T0 = Date.parse('2026-11-01T10:00:00Z');
    const login = (state: string, expiresAt = T0 + 300_000): LtiLogin => ({
      state,
      nonce: `nonce-of-${state}`,
      issuer: 'https://canvas.example.edu',
      clientId: '1000',
      expiresAt,
    });

    it('gives a login back once by its state; an unknown state is undefined', async () => {
      const guard = await factory(() => T0);
      await guard.putLogin(login('s1'));
      await guard.putLogin(login('s2'));
      expect(await guard.takeLogin('s1')).toEqual(login('s1'));
      expect(await guard.takeLogin('s1')).toBeUndefined();
      expect(await guard.takeLogin('nobody-made-this')).toBeUndefined();
      expect(await guard.takeLogin('s2')).toEqual(login('s2'));
    });

    it('does not give back a login past its expiry', async () => {
      let now = T0;
      const guard = await factory(() => now);
      await guard.putLogin(login('late', T0 + 60_000));
      now = T0 + 61_000;
      expect(await guard.takeLogin('late')).toBeUndefined();
    });

    it('claims a nonce once until it expires, then it may be claimed again', async () => {
      let now = T0;
      const guard = await factory(() => now);
      expect(await guard.claimNonce('n-1', T0 + 60_000)).toBe(true);
      expect(await guard.claimNonce('n-1', T0 + 60_000)).toBe(false);
      expect(await guard.claimNonce('n-2', T0 + 60_000)).toBe(true);
      now = T0 + 30_000;
      expect(await guard.claimNonce('n-1', T0 + 90_000)).toBe(false);
      now = T0 + 62_000;
      expect(await guard.claimNonce('n-1', T0 + 120_000)).toBe(true);
      expect(await guard.claimNonce('n-1', T0 + 120_000)).toBe(false);
    });

    it('lets exactly one of many racing requests have a state or a nonce', async () => {
      const guard = await factory(() => T0);
      await guard.putLogin(login('raced'));
      const takes = await Promise.all(Array.from({ length: 8 }, () => guard.takeLogin('raced')));
      expect(takes.filter(Boolean)).toHaveLength(1);
      const claims = await Promise.all(
        Array.from({ length: 8 }, () => guard.claimNonce('raced-nonce', T0 + 60_000)),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
    });

    it('keeps long and odd states and nonces apart (they come from browsers)', async () => {
      const guard = await factory(() => T0);
      const long = 'x'.repeat(5000);
      await guard.putLogin(login(long));
      expect(await guard.claimNonce(long, T0 + 60_000)).toBe(true);
      expect(await guard.claimNonce(`${long}y`, T0 + 60_000)).toBe(true);
      expect(await guard.takeLogin(`${long}y`)).toBeUndefined();
      expect((await guard.takeLogin(long))?.state).toBe(long);
    });
  });
}
