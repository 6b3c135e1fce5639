import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDirectory } from '../../functions/adapters/local/local-directory.ts';
import { NotFoundError, ValidationError } from '../../functions/core/errors.ts';
import { describeDirectoryContract } from './directory.contract.ts';

const dirs: string[] = [];
async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hubless-directory-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describeDirectoryContract(
  'LocalDirectory',
  async () => new LocalDirectory({ dataDir: await freshDataDir() }),
);

describe('LocalDirectory', () => {
  describe('storage', () => {
    it('keeps users in <dataDir>/users.json, readable by its owner only, without plain passwords', async () => {
      const dataDir = await freshDataDir();
      await new LocalDirectory({ dataDir }).upsert({ name: 'alice', password: 'correct horse' });
      const file = join(dataDir, 'users.json');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const text = await readFile(file, 'utf8');
      expect(text).not.toContain('correct horse');
      expect(text).toContain('scrypt$');
    });

    it('sees changes made by another instance (the CLI) at once', async () => {
      const dataDir = await freshDataDir();
      const server = new LocalDirectory({ dataDir });
      const cli = new LocalDirectory({ dataDir });
      expect(await server.get('bob')).toBeUndefined();
      await cli.upsert({ name: 'bob', password: 'password-1' });
      expect(await server.get('bob')).toMatchObject({ name: 'bob' });
      await cli.disable('bob');
      expect(await server.verifyPassword('bob', 'password-1')).toBeUndefined();
    });

    it('does not lose updates made concurrently in one process', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await Promise.all(['u-a', 'u-b', 'u-c', 'u-d', 'u-e'].map((name) => directory.upsert({ name })));
      expect(await directory.list()).toHaveLength(5);
    });

    it('never returns password hashes', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      const user = await directory.upsert({ name: 'carol', password: 'password-1' });
      expect(JSON.stringify(user)).not.toContain('scrypt');
      expect(JSON.stringify(await directory.list())).not.toContain('scrypt');
    });
  });

  describe('verifyPassword', () => {
    it('returns the user for the right password, case-insensitively on the name', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await directory.upsert({ name: 'alice', password: 'open sesame' });
      expect(await directory.verifyPassword('Alice', 'open sesame')).toMatchObject({ name: 'alice' });
    });

    it('returns undefined for a wrong password, an unknown user, or a name that is not a username', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await directory.upsert({ name: 'alice', password: 'open sesame' });
      expect(await directory.verifyPassword('alice', 'open sesame!')).toBeUndefined();
      expect(await directory.verifyPassword('mallory', 'open sesame')).toBeUndefined();
      expect(await directory.verifyPassword('a b', 'open sesame')).toBeUndefined();
    });

    it('never verifies a disabled user, and does again once enabled', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await directory.upsert({ name: 'dave', password: 'password-1' });
      await directory.disable('dave');
      expect(await directory.verifyPassword('dave', 'password-1')).toBeUndefined();
      await directory.enable('dave');
      expect(await directory.verifyPassword('dave', 'password-1')).toMatchObject({ name: 'dave' });
    });

    it('never verifies a user without a password', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await directory.upsert({ name: 'erin' });
      expect(await directory.verifyPassword('erin', '')).toBeUndefined();
    });
  });

  describe('setPassword', () => {
    it('replaces the password', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await directory.upsert({ name: 'frank', password: 'first-password' });
      await directory.setPassword('frank', 'second-password');
      expect(await directory.verifyPassword('frank', 'first-password')).toBeUndefined();
      expect(await directory.verifyPassword('frank', 'second-password')).toMatchObject({ name: 'frank' });
    });

    it('refuses a password shorter than 8 characters with a clear message', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await directory.upsert({ name: 'gina' });
      await expect(directory.setPassword('gina', 'short')).rejects.toBeInstanceOf(ValidationError);
      await expect(directory.upsert({ name: 'gina', password: '1234567' })).rejects.toThrow(
        /at least 8 characters/,
      );
    });

    it('throws NotFoundError for an unknown user', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await expect(directory.setPassword('nobody', 'long-enough')).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('resetPassword', () => {
    it('signs the user in with the password it returns, and no longer with the old one', async () => {
      const directory = new LocalDirectory({ dataDir: await freshDataDir() });
      await directory.upsert({ name: 'hal', password: 'first-password' });
      const password = await directory.resetPassword('hal');
      expect(await directory.verifyPassword('hal', 'first-password')).toBeUndefined();
      expect(await directory.verifyPassword('hal', password)).toMatchObject({ name: 'hal' });
    });
  });
});
