import { describe, expect, it } from 'vitest';
import { currentAnnouncement, setAnnouncement } from '../../functions/core/announcements.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import { MemoryAnnouncementStore } from '../fakes/api-stores.ts';

const now = new Date('2026-12-02T10:00:00.000Z');

describe('announcements', () => {
  it('shows a set announcement until its end time, and not after', async () => {
    const store = new MemoryAnnouncementStore();
    const set = await setAnnouncement(
      store,
      { message: '  Exam mode from 14:00  ', endsAt: '2026-12-02T12:00Z', by: 'user:root' },
      now,
    );
    expect(set).toEqual({
      message: 'Exam mode from 14:00',
      endsAt: '2026-12-02T12:00:00.000Z',
      setBy: 'user:root',
      setAt: now.toISOString(),
    });
    expect((await currentAnnouncement(store, new Date('2026-12-02T11:59:59Z')))?.message).toBe(
      'Exam mode from 14:00',
    );
    expect(await currentAnnouncement(store, new Date('2026-12-02T12:00:00Z'))).toBeUndefined();
  });

  it('keeps one without an end time until it is cleared', async () => {
    const store = new MemoryAnnouncementStore();
    await setAnnouncement(store, { message: 'Welcome', by: 'user:root' }, now);
    expect(await currentAnnouncement(store, new Date('2030-01-01T00:00:00Z'))).toBeDefined();
    await store.clear();
    expect(await currentAnnouncement(store, now)).toBeUndefined();
  });

  it('refuses an empty or too long message and a bad or past end time, saying what to do', async () => {
    const store = new MemoryAnnouncementStore();
    const by = 'user:root';
    await expect(setAnnouncement(store, { message: '   ', by }, now)).rejects.toThrow(/use Clear/);
    await expect(setAnnouncement(store, { message: 'x'.repeat(501), by }, now)).rejects.toThrow(
      /at most 500 characters \(this one has 501\)/,
    );
    await expect(setAnnouncement(store, { message: 'hi', endsAt: 'tomorrow', by }, now)).rejects.toThrow(
      /YYYY-MM-DDTHH:MM/,
    );
    await expect(
      setAnnouncement(store, { message: 'hi', endsAt: '2026-12-02T10:00Z', by }, now),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await store.get()).toBeUndefined();
  });
});
