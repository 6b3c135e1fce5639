import { randomBytes } from 'node:crypto';
import type { LocalDirectory } from '../adapters/local/local-directory.ts';

/**
 * On the very first start there is nobody who could sign in: create an admin with a
 * generated password, which the CLI prints once. Later starts leave users alone.
 */
export async function ensureFirstAdmin(
  directory: LocalDirectory,
): Promise<{ name: string; password: string } | undefined> {
  if ((await directory.list()).length > 0) return undefined;
  const name = 'admin';
  const password = randomBytes(12).toString('base64url');
  await directory.upsert({ name, admin: true, password });
  return { name, password };
}
