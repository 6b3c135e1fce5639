import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../functions/core/errors.ts';
import type { Directory } from '../../functions/core/ports.ts';

/**
 * What every Directory keeps (core/ports.ts). `makeDirectory` returns a fresh, empty
 * directory for each test.
 */
export function describeDirectoryContract(
  name: string,
  makeDirectory: () => Promise<Directory> | Directory,
): void {
  describe(`${name} (Directory contract)`, () => {
    describe('get', () => {
      it('returns undefined for a user nobody created', async () => {
        const directory = await makeDirectory();
        expect(await directory.get('nobody')).toBeUndefined();
      });

      it('finds a user whatever the case of the login', async () => {
        const directory = await makeDirectory();
        await directory.upsert({ name: 'carol' });
        expect((await directory.get('Carol'))?.name).toBe('carol');
      });
    });

    describe('upsert', () => {
      it('creates a user with safe defaults', async () => {
        const directory = await makeDirectory();
        const user = await directory.upsert({ name: 'Alice', email: 'alice@example.org' });
        expect(user).toMatchObject({
          name: 'alice',
          email: 'alice@example.org',
          groups: [],
          admin: false,
          disabled: false,
        });
        expect(Number.isNaN(Date.parse(user.createdAt))).toBe(false);
        const { signIn: _once, ...stored } = user;
        expect(await directory.get('alice')).toEqual(stored);
      });

      it('says, once, how a user it creates will sign in', async () => {
        const directory = await makeDirectory();
        const created = await directory.upsert({ name: 'fay' });
        expect(created.signIn).toBeDefined();
        if (created.signIn && 'initialPassword' in created.signIn) {
          // Cognito's policy in the stacks: 12+ characters with lower, upper, digit and symbol.
          expect(created.signIn.initialPassword).toMatch(
            /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]).{12,}$/,
          );
        }
        expect((await directory.upsert({ name: 'fay', groups: ['x'] })).signIn).toBeUndefined();
        expect((await directory.get('fay'))?.signIn).toBeUndefined();
      });

      it('updates email, groups and admin of an existing user and keeps its creation time', async () => {
        const directory = await makeDirectory();
        const first = await directory.upsert({ name: 'bob' });
        const second = await directory.upsert({
          name: 'bob',
          email: 'bob@example.org',
          groups: ['teachers'],
          admin: true,
        });
        expect(second).toMatchObject({
          name: 'bob',
          email: 'bob@example.org',
          groups: ['teachers'],
          admin: true,
        });
        expect(second.createdAt).toBe(first.createdAt);
        expect(await directory.list()).toHaveLength(1);
      });

      it('keeps the default profile, and keeps it when an update leaves it out', async () => {
        const directory = await makeDirectory();
        await directory.upsert({ name: 'erin', profile: 'large' });
        expect((await directory.get('erin'))?.profile).toBe('large');
        await directory.upsert({ name: 'erin', email: 'erin@example.org' });
        expect((await directory.get('erin'))?.profile).toBe('large');
      });

      it('is idempotent', async () => {
        const directory = await makeDirectory();
        const { signIn: _once, ...a } = await directory.upsert({ name: 'dave', groups: ['x'] });
        const b = await directory.upsert({ name: 'dave', groups: ['x'] });
        expect(b).toEqual(a);
      });

      it('refuses a name that cannot be a username, saying what is allowed', async () => {
        const directory = await makeDirectory();
        await expect(directory.upsert({ name: 'eve@example.org' })).rejects.toBeInstanceOf(ValidationError);
        await expect(directory.upsert({ name: '../root' })).rejects.toThrow(/letters a-z/);
      });
    });

    describe('list', () => {
      it('lists every user once, by name', async () => {
        const directory = await makeDirectory();
        await directory.upsert({ name: 'zed' });
        await directory.upsert({ name: 'amy' });
        await directory.upsert({ name: 'amy', admin: true });
        expect((await directory.list()).map((u) => u.name)).toEqual(['amy', 'zed']);
      });
    });

    describe('disable', () => {
      it('marks the user disabled and keeps the rest', async () => {
        const directory = await makeDirectory();
        await directory.upsert({ name: 'frank', groups: ['g'] });
        await directory.disable('frank');
        await directory.disable('Frank');
        expect(await directory.get('frank')).toMatchObject({ disabled: true, groups: ['g'] });
      });

      it('throws NotFoundError for an unknown user', async () => {
        const directory = await makeDirectory();
        await expect(directory.disable('ghost')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('enable', () => {
      it('lets a disabled user in again and keeps the rest; idempotent', async () => {
        const directory = await makeDirectory();
        await directory.upsert({ name: 'gina', groups: ['g'] });
        await directory.disable('gina');
        await directory.enable('Gina');
        await directory.enable('gina');
        expect(await directory.get('gina')).toMatchObject({ disabled: false, groups: ['g'] });
      });

      it('throws NotFoundError for an unknown user', async () => {
        const directory = await makeDirectory();
        await expect(directory.enable('ghost')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('resetPassword', () => {
      it('returns a new password each time, strong enough for the user pool', async () => {
        const directory = await makeDirectory();
        await directory.upsert({ name: 'hal' });
        const first = await directory.resetPassword('hal');
        const second = await directory.resetPassword('Hal');
        expect(first).not.toBe(second);
        expect(first).toMatch(/^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]).{12,}$/);
      });

      it('throws NotFoundError for an unknown user', async () => {
        const directory = await makeDirectory();
        await expect(directory.resetPassword('ghost')).rejects.toBeInstanceOf(NotFoundError);
      });
    });
  });
}
