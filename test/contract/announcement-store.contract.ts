import { describe, expect, it } from 'vitest';
import type { AnnouncementStore } from '../../functions/core/announcements.ts';

/** What every AnnouncementStore keeps (core/announcements.ts); `make` gives an empty one. */
export function describeAnnouncementStoreContract(
  name: string,
  make: () => Promise<AnnouncementStore>,
): void {
  describe(`${name} (AnnouncementStore contract)`, () => {
    it('has none until one is put, then returns it as put', async () => {
      const store = await make();
      expect(await store.get()).toBeUndefined();
      const announcement = {
        message: 'Maintenance <tonight> & "tomorrow"',
        endsAt: '2030-01-01T18:00:00.000Z',
        setBy: 'user:admin',
        setAt: '2029-12-31T09:00:00.000Z',
      };
      await store.put(announcement);
      expect(await store.get()).toEqual(announcement);
    });

    it('keeps one announcement: a new one replaces the old, without the old end time', async () => {
      const store = await make();
      await store.put({ message: 'old', endsAt: '2030-01-01T00:00:00.000Z', setBy: 'user:a', setAt: 't1' });
      await store.put({ message: 'new', setBy: 'user:b', setAt: 't2' });
      expect(await store.get()).toEqual({ message: 'new', setBy: 'user:b', setAt: 't2' });
    });

    it('clears it, idempotently', async () => {
      const store = await make();
      await store.put({ message: 'bye', setBy: 'user:a', setAt: 't' });
      await store.clear();
      await store.clear();
      expect(await store.get()).toBeUndefined();
    });
  });
}
