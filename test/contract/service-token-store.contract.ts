import { describe, expect, it } from 'vitest';
import {
  createServiceToken,
  type ServiceToken,
  type ServiceTokenStore,
  verifyServiceToken,
} from '../../functions/core/api/service-tokens.ts';
import { SessionConflictError, UnauthorizedError } from '../../functions/core/errors.ts';

/** The ServiceTokenStore contract (functions/core/api/service-tokens.ts), run against every adapter. */
const record = (id: string, createdAt: string): ServiceToken => ({
  id,
  name: `svc-${id}`,
  scopes: ['list:users'],
  culls: false,
  hash: 'ab'.repeat(32),
  createdAt,
  createdBy: 'test',
});

export function describeServiceTokenStoreContract(
  name: string,
  factory: () => Promise<ServiceTokenStore>,
): void {
  describe(`${name} (ServiceTokenStore contract)`, () => {
    it('keeps a record and reads it back by id; an unknown id is undefined', async () => {
      const store = await factory();
      const saved = record('a1b2c3d4e5f6', '2026-11-01T00:00:00.000Z');
      await store.put(saved);
      expect(await store.get(saved.id)).toEqual(saved);
      expect(await store.get('000000000000')).toBeUndefined();
    });

    it('refuses a second record with the same id', async () => {
      const store = await factory();
      await store.put(record('a1b2c3d4e5f6', '2026-11-01T00:00:00.000Z'));
      await expect(store.put(record('a1b2c3d4e5f6', '2026-11-02T00:00:00.000Z'))).rejects.toBeInstanceOf(
        SessionConflictError,
      );
    });

    it('lists every record, oldest first', async () => {
      const store = await factory();
      await store.put(record('bbbbbbbbbbbb', '2026-11-02T00:00:00.000Z'));
      await store.put(record('aaaaaaaaaaaa', '2026-11-01T00:00:00.000Z'));
      expect((await store.list()).map((t) => t.id)).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb']);
    });

    it('deletes a record (true), and says false for one it does not have', async () => {
      const store = await factory();
      await store.put(record('a1b2c3d4e5f6', '2026-11-01T00:00:00.000Z'));
      expect(await store.delete('a1b2c3d4e5f6')).toBe(true);
      expect(await store.delete('a1b2c3d4e5f6')).toBe(false);
      expect(await store.list()).toEqual([]);
    });

    it('with core: a made token verifies until it is revoked, and only its hash is stored', async () => {
      const store = await factory();
      const { token, record: made } = await createServiceToken(
        store,
        { name: 'idle-culler', scopes: ['list:users', 'delete:servers'], culls: true, createdBy: 'test' },
        new Date('2026-11-01T00:00:00Z'),
      );
      expect(await verifyServiceToken(store, token)).toEqual(made);
      expect(JSON.stringify(await store.list())).not.toContain(token.split('_')[2]);
      await expect(verifyServiceToken(store, `${token.slice(0, -1)}x`)).rejects.toBeInstanceOf(
        UnauthorizedError,
      );
      await store.delete(made.id);
      await expect(verifyServiceToken(store, token)).rejects.toBeInstanceOf(UnauthorizedError);
    });
  });
}
