import { describe, expect, it } from 'vitest';
import type { EventLog, LaunchLink, LaunchLinkStore, UsageStore } from '../../functions/core/api/ports.ts';
import type { CapacityStore, StoredAnnouncement } from '../../functions/core/pool/capacity.ts';
import type { LifecycleEvent } from '../../functions/core/ports.ts';

/** The contracts of the machine API's stores (functions/core/api/ports.ts), run against every adapter. */

const NOW = 1_800_000_000;
const link = (overrides: Partial<LaunchLink> = {}): LaunchLink => ({
  tokenHash: `h${Math.random().toString(16).slice(2)}`,
  user: 'ada',
  path: 'week3/lab.ipynb',
  client: 'canvas',
  createdAt: new Date(NOW * 1000).toISOString(),
  expiresAt: NOW + 600,
  ...overrides,
});

export function describeLaunchLinkStoreContract(name: string, factory: () => Promise<LaunchLinkStore>): void {
  describe(`${name} (LaunchLinkStore contract)`, () => {
    it('keeps a link and reads it back by its hash', async () => {
      const store = await factory();
      const saved = link();
      await store.put(saved);
      expect(await store.get(saved.tokenHash)).toEqual(saved);
      expect(await store.get('unknown')).toBeUndefined();
    });

    it('refuses a second link with the same hash', async () => {
      const store = await factory();
      const saved = link();
      await store.put(saved);
      await expect(store.put(saved)).rejects.toMatchObject({ code: 'conflict' });
    });

    it('marks a link used once, for its own user, before it expires', async () => {
      const store = await factory();
      const saved = link();
      await store.put(saved);
      expect(await store.markUsed(saved.tokenHash, 'bo', 'x', NOW)).toBe(false);
      const results = await Promise.all(
        [1, 2, 3].map(() => store.markUsed(saved.tokenHash, 'ada', '2027-01-15T08:00:00.000Z', NOW)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await store.get(saved.tokenHash))?.usedAt).toBe('2027-01-15T08:00:00.000Z');
      const late = link();
      await store.put(late);
      expect(await store.markUsed(late.tokenHash, 'ada', 'x', NOW + 600)).toBe(false);
      expect(await store.markUsed('unknown', 'ada', 'x', NOW)).toBe(false);
    });

    it('lets exactly one of concurrent redemptions with different timestamps win', async () => {
      const store = await factory();
      const saved = link();
      await store.put(saved);
      const times = [0, 1, 2, 3, 4].map((i) => `2027-01-15T08:00:0${i}.000Z`);
      const results = await Promise.all(
        times.map((usedAt) => store.markUsed(saved.tokenHash, 'ada', usedAt, NOW)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = times[results.indexOf(true)];
      expect((await store.get(saved.tokenHash))?.usedAt).toBe(winner);
      // A later redemption, with yet another timestamp, is refused and changes nothing.
      expect(await store.markUsed(saved.tokenHash, 'ada', '2027-01-15T09:00:00.000Z', NOW + 1)).toBe(false);
      expect((await store.get(saved.tokenHash))?.usedAt).toBe(winner);
    });

    it('redeems a link in its last second and not for another user', async () => {
      const store = await factory();
      const saved = link();
      await store.put(saved);
      expect(await store.markUsed(saved.tokenHash, 'adam', 'x', NOW)).toBe(false);
      expect(await store.markUsed(saved.tokenHash, 'ad', 'x', NOW)).toBe(false);
      expect(await store.markUsed(saved.tokenHash, 'ada', '2027-01-15T08:00:00.000Z', NOW + 599)).toBe(true);
    });

    it('claims an idempotency key once until it expires', async () => {
      const store = await factory();
      const record = {
        keyHash: `k${Math.random()}`,
        requestHash: 'r',
        sealedToken: 's1',
        expiresAt: NOW + 600,
      };
      expect(await store.claimIdempotencyKey(record, NOW)).toBeUndefined();
      expect(await store.claimIdempotencyKey({ ...record, sealedToken: 's2' }, NOW)).toEqual(record);
      expect(
        await store.claimIdempotencyKey({ ...record, sealedToken: 's3', expiresAt: NOW + 1200 }, NOW + 600),
      ).toBeUndefined();
    });
  });
}

export function describeUsageStoreContract(name: string, factory: () => Promise<UsageStore>): void {
  describe(`${name} (UsageStore contract)`, () => {
    it('adds seconds per user and day, once per session', async () => {
      const store = await factory();
      await store.add({ user: 'ada', date: '2026-11-21', seconds: 100, sessionId: 's1' });
      await store.add({ user: 'ada', date: '2026-11-21', seconds: 100, sessionId: 's1' });
      await store.add({ user: 'ada', date: '2026-11-21', seconds: 50, sessionId: 's2' });
      await store.add({ user: 'bo', date: '2026-11-22', seconds: 10, sessionId: 's3' });
      await store.add({ user: 'bo', date: '2026-11-25', seconds: 10, sessionId: 's4' });
      expect(await store.query({ from: '2026-11-21', to: '2026-11-22' })).toEqual([
        { user: 'ada', date: '2026-11-21', seconds: 150 },
        { user: 'bo', date: '2026-11-22', seconds: 10 },
      ]);
      expect(await store.query({ from: '2026-11-20', to: '2026-11-30', user: 'bo' })).toEqual([
        { user: 'bo', date: '2026-11-22', seconds: 10 },
        { user: 'bo', date: '2026-11-25', seconds: 10 },
      ]);
    });
  });
}

export function describeEventLogContract(name: string, factory: () => Promise<EventLog>): void {
  describe(`${name} (EventLog contract)`, () => {
    const event = (time: string, type: LifecycleEvent['type'], sessionId = 'ada__1'): LifecycleEvent => ({
      type,
      time,
      user: 'ada',
      server: '',
      sessionId,
    });

    it('returns recent events newest first, across days, up to the limit', async () => {
      const log = await factory();
      await log.publish(event('2026-11-20T09:00:00.000Z', 'start'));
      await log.publish(event('2026-11-20T09:01:00.000Z', 'ready'));
      await log.publish({
        ...event('2026-11-21T10:00:00.000Z', 'cull'),
        reason: 'idle',
        durationSeconds: 3600,
      });
      const recent = await log.recent(2, new Date('2026-11-21T12:00:00.000Z'));
      expect(recent).toEqual([
        { ...event('2026-11-21T10:00:00.000Z', 'cull'), reason: 'idle', durationSeconds: 3600 },
        event('2026-11-20T09:01:00.000Z', 'ready'),
      ]);
    });

    it('keeps one copy of a duplicate and forgets events past retention', async () => {
      const log = await factory();
      await log.publish(event('2026-11-21T10:00:00.000Z', 'stop'));
      await log.publish(event('2026-11-21T10:00:00.000Z', 'stop'));
      await log.publish(event('2026-10-01T10:00:00.000Z', 'stop', 'old'));
      expect(await log.recent(10, new Date('2026-11-21T12:00:00.000Z'))).toHaveLength(1);
    });
  });
}

export function describeCapacityStoreContract(name: string, factory: () => Promise<CapacityStore>): void {
  describe(`${name} (CapacityStore contract)`, () => {
    const HOUR = 3_600_000;
    const now = new Date('2026-12-02T09:00:00.000Z');
    const at = (hours: number) => new Date(now.getTime() + hours * HOUR).toISOString();
    const announcement = (overrides: Partial<StoredAnnouncement> = {}): StoredAnnouncement => ({
      client: 'moodle',
      sessions: 30,
      at: at(2),
      announcedAt: now.toISOString(),
      ...overrides,
    });

    it('gives back the classes still ahead, soonest first, and keeps one started within the hold', async () => {
      const store = await factory();
      await store.announce(announcement({ at: at(5), sessions: 50 }));
      await store.announce(announcement({ at: at(2), sessions: 30 }));
      await store.announce(announcement({ at: at(-0.5), sessions: 10 }));
      await store.announce(announcement({ at: at(-2), sessions: 99 }));
      expect((await store.upcoming(now, HOUR)).map((a) => [a.at, a.sessions])).toEqual([
        [at(-0.5), 10],
        [at(2), 30],
        [at(5), 50],
      ]);
      expect(await store.upcoming(now, HOUR)).toContainEqual(announcement({ at: at(2), sessions: 30 }));
    });

    it('replaces a client’s announcement for the same start, keeps other clients’, and withdraws one at 0', async () => {
      const store = await factory();
      await store.announce(announcement({ sessions: 30 }));
      await store.announce(announcement({ sessions: 45 }));
      await store.announce(announcement({ client: 'canvas', sessions: 20 }));
      expect((await store.upcoming(now, HOUR)).map((a) => [a.client, a.sessions]).sort()).toEqual([
        ['canvas', 20],
        ['moodle', 45],
      ]);
      await store.announce(announcement({ sessions: 0 }));
      expect((await store.upcoming(now, HOUR)).map((a) => a.client)).toEqual(['canvas']);
    });
  });
}
