import { describe, expect, it } from 'vitest';
import type { LeaseStore } from '../../functions/core/culling/ports.ts';
import { FakeClock } from '../fakes/fake-parts.ts';

/**
 * What every LeaseStore (DynamoLeaseStore on AWS and in local mode, MemoryLeaseStore in
 * unit tests) must do: one culler sweep at a time, a lease of ttl seconds that its holder
 * may renew, free again the second it has run out, and a release that only its holder can do.
 */
export function describeLeaseStoreContract(
  name: string,
  make: (clock: FakeClock) => Promise<LeaseStore>,
): void {
  describe(`LeaseStore contract: ${name}`, () => {
    async function leases() {
      const clock = new FakeClock();
      return { clock, store: await make(clock) };
    }

    it('gives a free lease to the first holder and refuses a second one', async () => {
      const { store } = await leases();
      expect(await store.acquire('culler', 'a', 60)).toBe(true);
      expect(await store.acquire('culler', 'b', 60)).toBe(false);
    });

    it('lets the holder renew its own lease, which then runs from the renewal', async () => {
      const { store, clock } = await leases();
      expect(await store.acquire('culler', 'a', 60)).toBe(true);
      clock.advance(50);
      expect(await store.acquire('culler', 'a', 60)).toBe(true);
      clock.advance(50);
      expect(await store.acquire('culler', 'b', 60)).toBe(false);
      clock.advance(10);
      expect(await store.acquire('culler', 'b', 60)).toBe(true);
    });

    it('holds a lease for its ttl and hands it to someone else the second it runs out', async () => {
      const { store, clock } = await leases();
      await store.acquire('culler', 'a', 60);
      clock.advance(59);
      expect(await store.acquire('culler', 'b', 60)).toBe(false);
      clock.advance(1);
      expect(await store.acquire('culler', 'b', 60)).toBe(true);
      expect(await store.acquire('culler', 'a', 60)).toBe(false);
    });

    it('gives a lease to exactly one of many racing holders', async () => {
      const { store } = await leases();
      const results = await Promise.all(
        ['a', 'b', 'c', 'd', 'e', 'f'].map((holder) => store.acquire('race', holder, 60)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('keeps leases of different names apart', async () => {
      const { store } = await leases();
      expect(await store.acquire('one', 'a', 60)).toBe(true);
      expect(await store.acquire('two', 'b', 60)).toBe(true);
      expect(await store.acquire('one', 'b', 60)).toBe(false);
    });

    it('frees the lease for the next holder, and ignores a holder that does not hold it', async () => {
      const { store } = await leases();
      await store.acquire('culler', 'a', 60);
      await store.release('culler', 'b');
      expect(await store.acquire('culler', 'b', 60)).toBe(false);
      await store.release('culler', 'a');
      expect(await store.acquire('culler', 'b', 60)).toBe(true);
      await store.release('culler', 'nobody'); // idempotent, no throw
      await store.release('never-taken', 'a');
      expect(await store.acquire('culler', 'a', 60)).toBe(false);
    });
  });
}
