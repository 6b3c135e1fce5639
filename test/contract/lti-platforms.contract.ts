import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../functions/core/errors.ts';
import type { LtiPlatform, LtiPlatforms } from '../../functions/core/lti/ports.ts';
import {
  listLtiPlatforms,
  registerLtiPlatform,
  removeLtiPlatform,
} from '../../functions/core/lti/registration.ts';

/** The LtiPlatforms contract (functions/core/lti/ports.ts), run against every adapter. */
const platform = (issuer: string, clientId: string, extra: Partial<LtiPlatform> = {}): LtiPlatform => ({
  issuer,
  clientId,
  deploymentIds: ['1:abc'],
  jwksUrl: `${issuer}/jwks`,
  authUrl: `${issuer}/auth`,
  createdAt: '2026-11-01T00:00:00.000Z',
  ...extra,
});

export function describeLtiPlatformsContract(name: string, factory: () => Promise<LtiPlatforms>): void {
  describe(`${name} (LtiPlatforms contract)`, () => {
    it('keeps a registration and reads it back by (issuer, client id); anything else is undefined', async () => {
      const store = await factory();
      const saved = platform('https://canvas.example.edu', '1000001', {
        usernameClaim: 'https://purl.imsglobal.org/spec/lti/claim/ext.user_username',
      });
      await store.put(saved);
      expect(await store.get(saved.issuer, saved.clientId)).toEqual(saved);
      expect(await store.get(saved.issuer, '1000002')).toBeUndefined();
      expect(await store.get('https://moodle.example.edu', saved.clientId)).toBeUndefined();
    });

    it('keeps apart registrations whose issuer and client id only join to the same text', async () => {
      const store = await factory();
      await store.put(platform('https://lms.example.edu/a b', 'c', { deploymentIds: ['one'] }));
      await store.put(platform('https://lms.example.edu/a', 'b c', { deploymentIds: ['two'] }));
      expect((await store.get('https://lms.example.edu/a b', 'c'))?.deploymentIds).toEqual(['one']);
      expect((await store.get('https://lms.example.edu/a', 'b c'))?.deploymentIds).toEqual(['two']);
      expect(await store.list()).toHaveLength(2);
    });

    it('replaces the registration of the same (issuer, client id), and lists every registration', async () => {
      const store = await factory();
      await store.put(platform('https://canvas.example.edu', '1'));
      await store.put(platform('https://moodle.example.edu', '1'));
      await store.put(platform('https://canvas.example.edu', '1', { deploymentIds: ['2:def'] }));
      const all = await store.list();
      expect(all.map((p) => [p.issuer, p.deploymentIds]).sort()).toEqual([
        ['https://canvas.example.edu', ['2:def']],
        ['https://moodle.example.edu', ['1:abc']],
      ]);
    });

    it('removes a registration (true), and says false for one it does not have', async () => {
      const store = await factory();
      await store.put(platform('https://canvas.example.edu', '1'));
      expect(await store.remove('https://canvas.example.edu', '2')).toBe(false);
      expect(await store.remove('https://canvas.example.edu', '1')).toBe(true);
      expect(await store.remove('https://canvas.example.edu', '1')).toBe(false);
      expect(await store.list()).toEqual([]);
    });

    it('with core: registers, replaces keeping the creation time, lists in order and removes', async () => {
      const store = await factory();
      const input = {
        issuer: 'https://moodle.example.edu',
        clientId: 'abc',
        deploymentIds: [' 7 ', '7', '8'],
        jwksUrl: 'https://moodle.example.edu/mod/lti/certs.php',
        authUrl: 'https://moodle.example.edu/mod/lti/auth.php',
      };
      const first = await registerLtiPlatform(store, input, new Date('2026-11-01T00:00:00Z'));
      expect(first).toMatchObject({ created: true, platform: { deploymentIds: ['7', '8'] } });
      const again = await registerLtiPlatform(
        store,
        { ...input, deploymentIds: ['9'] },
        new Date('2026-11-05T00:00:00Z'),
      );
      expect(again.created).toBe(false);
      expect(await store.get(input.issuer, input.clientId)).toEqual({
        ...input,
        deploymentIds: ['9'],
        createdAt: '2026-11-01T00:00:00.000Z',
      });
      await registerLtiPlatform(
        store,
        { ...input, issuer: 'https://canvas.example.edu', jwksUrl: 'https://canvas.example.edu/jwks' },
        new Date('2026-11-06T00:00:00Z'),
      );
      expect((await listLtiPlatforms(store)).map((p) => p.issuer)).toEqual([
        'https://canvas.example.edu',
        'https://moodle.example.edu',
      ]);
      await removeLtiPlatform(store, input.issuer, input.clientId);
      await expect(removeLtiPlatform(store, input.issuer, input.clientId)).rejects.toThrow(
        new NotFoundError(
          'There is no registration of https://moodle.example.edu with client id abc. The registrations are listed by `hubless lti list` or GET /api/v1/lti/platforms.',
          'unknown_lti_platform',
        ),
      );
    });

    it('with core: a registration that cannot work is refused with what to fix, and nothing is stored', async () => {
      const store = await factory();
      const good = {
        issuer: 'https://canvas.example.edu',
        clientId: '1',
        deploymentIds: ['1'],
        jwksUrl: 'https://canvas.example.edu/api/lti/security/jwks',
        authUrl: 'https://canvas.example.edu/api/lti/authorize_redirect',
      };
      const refusals: [Partial<typeof good> & { usernameClaim?: string }, RegExp][] = [
        [{ issuer: '' }, /^issuer is required/],
        [{ clientId: '' }, /^client id is required/],
        [{ deploymentIds: [] }, /^at least one deployment id is required/],
        [{ deploymentIds: ['1', ' '] }, /^at least one deployment id is required/],
        [{ jwksUrl: 'certs.php' }, /^jwks URL must be an absolute URL; got "certs\.php"/],
        [{ authUrl: 'http://lms.example.edu/auth' }, /^auth URL must be an https:\/\/ URL/],
        [{ usernameClaim: 'ext..user' }, /^username claim must be a claim name or a dotted path/],
      ];
      for (const [change, message] of refusals) {
        const refused = registerLtiPlatform(store, { ...good, ...change }, new Date());
        await expect(refused).rejects.toBeInstanceOf(ValidationError);
        await expect(refused).rejects.toThrow(message);
      }
      expect(await store.list()).toEqual([]);
    });
  });
}
