import { describe, expect, it } from 'vitest';
import { ForbiddenError, ValidationError } from '../../functions/core/errors.ts';
import type { Profile } from '../../functions/core/ports.ts';
import { startServer, startServerFor } from '../../functions/core/use-cases/start-server.ts';
import { stopGroupServers } from '../../functions/core/use-cases/stop-group.ts';
import {
  disableUser,
  enableUser,
  type Manager,
  putUser,
  resetUserPassword,
  searchUsers,
} from '../../functions/core/use-cases/users.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';

/** The use cases behind the admin page, which the API shares (core/use-cases/users.ts and others). */
const root: Manager = { kind: 'administrator', name: 'root' };
const reason = { code: 'admin' as const, message: 'Stopped by the administrator root.', by: 'user:root' };

describe('users, managed by an administrator', () => {
  it('may make an administrator, which a course platform may not', async () => {
    const deps = makeTestDeps();
    const { user } = await putUser(deps, { name: 'tess', admin: true }, root);
    expect(user.admin).toBe(true);
    await expect(putUser(deps, { name: 'ned', admin: true })).rejects.toBeInstanceOf(ForbiddenError);
    expect(await deps.directory.get('ned')).toBeUndefined();
  });

  it('may change and disable another admin account, which the API may not', async () => {
    const deps = makeTestDeps();
    await deps.directory.upsert({ name: 'tess', admin: true });
    await expect(putUser(deps, { name: 'tess', groups: ['x'] })).rejects.toThrow(/admin account/);
    await putUser(deps, { name: 'tess', groups: ['x'], admin: false }, root);
    expect(await deps.directory.get('tess')).toMatchObject({ groups: ['x'], admin: false });
    await deps.directory.upsert({ name: 'tess', admin: true });
    expect((await disableUser(deps, 'tess', root)).disabled).toBe(true);
  });

  it('cannot lock themselves out: no disabling their own account, no dropping their own admin flag', async () => {
    const deps = makeTestDeps();
    await deps.directory.upsert({ name: 'root', admin: true });
    await expect(disableUser(deps, 'root', root)).rejects.toThrow(/your own account/);
    await expect(putUser(deps, { name: 'root', admin: false }, root)).rejects.toThrow(
      /your own administrator rights/,
    );
    expect(await deps.directory.get('root')).toMatchObject({ admin: true, disabled: false });
    // Saving their own groups with the flag kept is fine.
    await putUser(deps, { name: 'root', groups: ['staff'], admin: true }, root);
    expect((await deps.directory.get('root'))?.groups).toEqual(['staff']);
  });

  it('enables a disabled user again, keeping the rest', async () => {
    const deps = makeTestDeps();
    await deps.directory.upsert({ name: 'amy', groups: ['g'] });
    await disableUser(deps, 'amy', root);
    expect(await enableUser(deps, 'amy', root)).toMatchObject({ disabled: false, groups: ['g'] });
  });

  it('resets a password and hands the new one back once; the API may not reset an admin’s', async () => {
    const deps = makeTestDeps();
    await deps.directory.upsert({ name: 'amy' });
    const password = await resetUserPassword(deps, 'amy', root);
    expect(deps.directory.passwords.get('amy')).toBe(password);
    await deps.directory.upsert({ name: 'tess', admin: true });
    await expect(resetUserPassword(deps, 'tess')).rejects.toBeInstanceOf(ForbiddenError);
    await expect(resetUserPassword(deps, 'ghost', root)).rejects.toThrow(/no user named "ghost"/);
  });
});

describe('searchUsers', () => {
  async function classOf(n: number) {
    const deps = makeTestDeps();
    for (let i = 1; i <= n; i++)
      await deps.directory.upsert({
        name: `s-${String(i).padStart(4, '0')}`,
        groups: [i % 2 ? 'odd' : 'even'],
        ...(i === 7 ? { email: 'Lucky@Example.edu' } : {}),
      });
    return deps;
  }

  it('pages a class of 1,000 by name, 50 at a time, and clamps a page out of range', async () => {
    const deps = await classOf(1000);
    const first = await searchUsers(deps, { query: '', page: 1, pageSize: 50 });
    expect(first).toMatchObject({ matching: 1000, total: 1000, page: 1, pages: 20 });
    expect(first.users.map((u) => u.name).slice(0, 2)).toEqual(['s-0001', 's-0002']);
    const last = await searchUsers(deps, { query: '', page: 99, pageSize: 50 });
    expect(last.page).toBe(20);
    expect(last.users.at(-1)?.name).toBe('s-1000');
    expect((await searchUsers(deps, { query: '', page: Number.NaN, pageSize: 50 })).page).toBe(1);
  });

  it('finds by part of the name, the e-mail (any case) or a group', async () => {
    const deps = await classOf(30);
    expect((await searchUsers(deps, { query: 's-002', page: 1, pageSize: 50 })).matching).toBe(10);
    const byEmail = await searchUsers(deps, { query: 'lucky@example', page: 1, pageSize: 50 });
    expect(byEmail.users.map((u) => u.name)).toEqual(['s-0007']);
    const byGroup = await searchUsers(deps, { query: 'even', page: 1, pageSize: 10 });
    expect(byGroup).toMatchObject({ matching: 15, pages: 2, total: 30 });
    expect(byGroup.names.size).toBe(15);
    expect(byGroup.groups).toEqual(['even', 'odd']);
  });
});

describe('servers, started and stopped by an administrator', () => {
  const large: Profile = {
    name: 'large',
    description: '',
    cpu: 4096,
    memory: 8192,
    spot: false,
    groups: ['ml'],
  };

  it('starts a server for a user with their groups and default profile, and refuses a disabled user', async () => {
    const deps = makeTestDeps();
    deps.settings.profiles = [...deps.settings.profiles, large];
    await deps.directory.upsert({ name: 'amy', groups: ['ml'], profile: 'large' });
    const { session } = await startServerFor(deps, { user: 'Amy', server: '' });
    expect(session).toMatchObject({ user: 'amy', profile: 'large' });
    await deps.directory.upsert({ name: 'bob' });
    await expect(startServerFor(deps, { user: 'bob', server: '', profile: 'large' })).rejects.toThrow(
      /limited to the groups ml/,
    );
    await deps.directory.disable('bob');
    await expect(startServerFor(deps, { user: 'bob', server: '' })).rejects.toThrow(/disabled/);
  });

  it('stops every active server of a group and no other', async () => {
    const deps = makeTestDeps();
    await deps.directory.upsert({ name: 'amy', groups: ['cs101'] });
    await deps.directory.upsert({ name: 'bea', groups: ['cs101', 'x'] });
    await deps.directory.upsert({ name: 'cal', groups: ['x'] });
    for (const user of ['amy', 'bea', 'cal']) await startServer(deps, { user, server: '', groups: [] });
    await startServer(deps, { user: 'bea', server: 'thesis', groups: [] });
    const result = await stopGroupServers(deps, 'cs101', reason);
    expect(result).toEqual({ stopped: 3, failed: 0 });
    for (const [user, server] of [
      ['amy', ''],
      ['bea', ''],
      ['bea', 'thesis'],
    ] as const)
      expect((await deps.store.get(user, server))?.reason).toEqual(reason);
    expect((await deps.store.get('cal', ''))?.state).not.toMatch(/stop/);
  });

  it('asks which group when none is named', async () => {
    await expect(stopGroupServers(makeTestDeps(), ' ', reason)).rejects.toBeInstanceOf(ValidationError);
  });
});
