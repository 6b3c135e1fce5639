import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionConflictError } from '../../functions/core/errors.ts';
import type { SessionStore } from '../../functions/core/ports.ts';
import { newSessionId, type Session, type SessionState } from '../../functions/core/session.ts';

/**
 * The SessionStore contract (functions/core/ports.ts), run against every adapter.
 * `makeStore` must return an empty store each time it is called (a fresh table, a new
 * instance): tests assert on whole listings.
 */
export function describeSessionStoreContract(
  name: string,
  makeStore: () => Promise<SessionStore> | SessionStore,
): void {
  describe(`${name} (SessionStore contract)`, () => {
    describe('create', () => {
      it('stores a new session at version 1 that get returns', async () => {
        const store = await makeStore();
        const session = aSession({ version: 7 });

        const created = await store.create(session);

        expect(created).toEqual({ ...session, version: 1 });
        expect(await store.get(session.user, session.server)).toEqual(created);
      });

      it('keeps sessions of different servers of one user apart', async () => {
        const store = await makeStore();
        const user = aUser();
        const main = await store.create(aSession({ user, server: '' }));
        const project = await store.create(aSession({ user, server: 'project' }));

        expect(await store.get(user, '')).toEqual(main);
        expect(await store.get(user, 'project')).toEqual(project);
        expect(await store.get(user, 'other')).toBeUndefined();
      });

      it('refuses while a session that is not terminal exists, and hands back that session', async () => {
        const store = await makeStore();
        const first = await store.create(aSession({ state: 'ready' }));

        const error = await rejectionOf(store.create(aSession({ user: first.user, server: first.server })));

        expect(error).toBeInstanceOf(SessionConflictError);
        expect((error as SessionConflictError<Session>).current).toEqual(first);
        expect(await store.get(first.user, first.server)).toEqual(first);
      });

      it.each(['stopped', 'failed'] as const)('replaces a %s session', async (state) => {
        const store = await makeStore();
        const old = await store.create(aSession({ state }));
        const replacement = aSession({ user: old.user, server: old.server });

        const created = await store.create(replacement);

        expect(created).toEqual({ ...replacement, version: 1 });
        expect(await store.get(old.user, old.server)).toEqual(created);
      });

      it('makes exactly one session out of 50 concurrent creates, and every loser sees the winner', async () => {
        const store = await makeStore();
        const user = aUser();
        const attempts = Array.from({ length: 50 }, () => aSession({ user, server: '' }));

        const results = await Promise.allSettled(attempts.map((session) => store.create(session)));

        const winners = results
          .filter((result) => result.status === 'fulfilled')
          .map((result) => result.value);
        const losers = results
          .filter((result) => result.status === 'rejected')
          .map((result) => result.reason);
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(49);
        for (const loser of losers) {
          expect(loser).toBeInstanceOf(SessionConflictError);
          expect((loser as SessionConflictError<Session>).current).toEqual(winners[0]);
        }
        expect(await store.get(user, '')).toEqual(winners[0]);
      });
    });

    describe('update', () => {
      it('writes the next version when the expected version matches', async () => {
        const store = await makeStore();
        const created = await store.create(aSession());
        const next: Session = {
          ...created,
          state: 'launching',
          computeHandle: 'task-1',
          updatedAt: later(created),
        };

        const written = await store.update(next, created.version);

        expect(written).toEqual({ ...next, version: 2 });
        expect(await store.get(created.user, created.server)).toEqual(written);
      });

      it('removes fields the next session leaves out', async () => {
        const store = await makeStore();
        const created = await store.create(aSession({ openPath: 'week3.ipynb' }));
        const { openPath: _dropped, ...rest } = created;

        await store.update({ ...rest, updatedAt: later(created) }, created.version);

        expect((await store.get(created.user, created.server))?.openPath).toBeUndefined();
      });

      it('refuses a stale version and hands back the current session', async () => {
        const store = await makeStore();
        const created = await store.create(aSession());
        const current = await store.update(
          { ...created, state: 'launching', updatedAt: later(created) },
          created.version,
        );

        const error = await rejectionOf(
          store.update({ ...created, state: 'failed', updatedAt: later(current) }, created.version),
        );

        expect(error).toBeInstanceOf(SessionConflictError);
        expect((error as SessionConflictError<Session>).current).toEqual(current);
        expect(await store.get(created.user, created.server)).toEqual(current);
      });

      it('refuses to write over a session that replaced the one read, even at the same version', async () => {
        const store = await makeStore();
        const old = await store.create(aSession());
        await store.update({ ...old, state: 'stopped', updatedAt: later(old) }, old.version);
        const replacement = await store.create(aSession({ user: old.user, server: old.server }));
        expect(replacement.version).toBe(old.version);

        const error = await rejectionOf(
          store.update({ ...old, state: 'launching', updatedAt: later(old) }, old.version),
        );

        expect(error).toBeInstanceOf(SessionConflictError);
        expect((error as SessionConflictError<Session>).current).toEqual(replacement);
      });

      it('refuses when the session is gone, with no current session', async () => {
        const store = await makeStore();
        const never = aSession();

        const error = await rejectionOf(store.update(never, 1));

        expect(error).toBeInstanceOf(SessionConflictError);
        expect((error as SessionConflictError<Session>).current).toBeUndefined();
        expect(await store.get(never.user, never.server)).toBeUndefined();
      });
    });

    describe('listByState', () => {
      it('returns only sessions in that state, oldest update first', async () => {
        const store = await makeStore();
        const state: SessionState = 'running';
        const base = Date.parse('2030-01-01T00:00:00Z');
        const newer = await store.create(aSession({ state, updatedAt: new Date(base + 2000).toISOString() }));
        const older = await store.create(aSession({ state, updatedAt: new Date(base + 1000).toISOString() }));
        const other = await store.create(aSession({ state: 'pending' }));

        const page = await store.listByState(state);

        expect(page.items).toEqual([older, newer]);
        expect(page.items).not.toContainEqual(other);
      });

      it('pages through more sessions than the limit with the cursor', async () => {
        const store = await makeStore();
        const state: SessionState = 'ready';
        const created = await Promise.all(Array.from({ length: 7 }, () => store.create(aSession({ state }))));
        const createdIds = new Set(created.map((session) => session.id));

        const seen: Session[] = [];
        const first = await store.listByState(state, { limit: 3 });
        expect(first.items).toHaveLength(3);
        expect(first.cursor).toEqual(expect.any(String));
        let page = first;
        seen.push(...page.items);
        for (let guard = 0; page.cursor !== undefined; guard++) {
          expect(guard).toBeLessThan(100);
          page = await store.listByState(state, { limit: 3, cursor: page.cursor });
          expect(page.items.length).toBeLessThanOrEqual(3);
          seen.push(...page.items);
        }

        expect(seen).toHaveLength(7);
        expect(new Set(seen.map((session) => session.id))).toEqual(createdIds);
      });

      it('reflects a state change at once', async () => {
        const store = await makeStore();
        const created = await store.create(aSession({ state: 'running' }));
        const ready = await store.update(
          { ...created, state: 'ready', updatedAt: later(created) },
          created.version,
        );

        expect(await allOf(store, 'running')).toEqual([]);
        expect(await allOf(store, 'ready')).toEqual([ready]);
      });

      it('leaves out expired sessions', async () => {
        const store = await makeStore();
        const expired = await store.create(aSession({ state: 'stopped', expiresAt: secondsFromNow(-60) }));
        const live = await store.create(aSession({ state: 'stopped', expiresAt: secondsFromNow(3600) }));

        expect(await allOf(store, 'stopped')).toEqual([live]);
        expect(expired.expiresAt).toBeLessThan(secondsFromNow(0));
      });
    });

    describe('listByUser', () => {
      it("returns every current session of the user and nobody else's", async () => {
        const store = await makeStore();
        const user = aUser();
        const main = await store.create(aSession({ user, server: '' }));
        const project = await store.create(aSession({ user, server: 'project', state: 'ready' }));
        await store.create(aSession());

        const sessions = await store.listByUser(user);

        expect(sessions.sort(byId)).toEqual([main, project].sort(byId));
        expect(sessions.every((session) => session.user === user)).toBe(true);
      });

      it('returns nothing for a user without sessions', async () => {
        const store = await makeStore();
        expect(await store.listByUser(aUser())).toEqual([]);
      });
    });

    describe('expiry', () => {
      it('treats a session whose expiresAt has passed as absent', async () => {
        const store = await makeStore();
        const expired = await store.create(aSession({ state: 'stopped', expiresAt: secondsFromNow(-60) }));
        const live = await store.create(aSession({ state: 'stopped', expiresAt: secondsFromNow(3600) }));

        expect(await store.get(expired.user, expired.server)).toBeUndefined();
        expect(await store.listByUser(expired.user)).toEqual([]);
        expect(await store.get(live.user, live.server)).toEqual(live);
      });

      it('lets a new session replace an expired one that TTL has not deleted yet', async () => {
        const store = await makeStore();
        const expired = await store.create(aSession({ state: 'ready', expiresAt: secondsFromNow(-60) }));

        const created = await store.create(aSession({ user: expired.user, server: expired.server }));

        expect(await store.get(expired.user, expired.server)).toEqual(created);
      });
    });

    describe('isolation', () => {
      it('does not let callers change stored sessions by mutating what they got', async () => {
        const store = await makeStore();
        const created = await store.create(aSession());
        created.events.push({ progress: 50, message: 'mutated', time: created.createdAt });
        const read = await store.get(created.user, created.server);
        if (read) read.state = 'failed';

        const again = await store.get(created.user, created.server);

        expect(again?.state).toBe('pending');
        expect(again?.events).toHaveLength(1);
      });
    });
  });
}

function aUser(): string {
  return `u${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

let counter = 0;
function aSession(overrides: Partial<Session> = {}): Session {
  const user = overrides.user ?? aUser();
  const server = overrides.server ?? '';
  const time = new Date(Date.parse('2030-01-01T00:00:00Z') + counter++ * 1000).toISOString();
  return {
    id: newSessionId(user, server, randomUUID().slice(0, 8)),
    user,
    server,
    profile: 'small',
    state: 'pending',
    version: 1,
    createdAt: time,
    updatedAt: time,
    events: [{ progress: 10, message: 'Server requested', time }],
    ...overrides,
  };
}

function later(session: Session): string {
  return new Date(Date.parse(session.updatedAt) + 1000).toISOString();
}

function secondsFromNow(seconds: number): number {
  return Math.floor(Date.now() / 1000) + seconds;
}

function byId(a: Session, b: Session): number {
  return a.id < b.id ? -1 : 1;
}

async function allOf(store: SessionStore, state: SessionState): Promise<Session[]> {
  const sessions: Session[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listByState(state, { limit: 100, cursor });
    sessions.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return sessions;
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
