import type { Directory, User } from './ports.ts';

export interface CachedDirectoryOptions {
  /** How long a read is reused. Default 30 s. */
  ttlMs?: number;
  /** Entries kept at most; the oldest go first. Default 5,000. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * The portal reads the signed-in user (admin flag, groups, disabled) on every request;
 * against Cognito that is AdminGetUser and AdminListGroupsForUser each time, which a class
 * polling its progress page throttles within seconds. This keeps each answer for a brief
 * `ttlMs` per instance (each Lambda instance has its own), so a change made elsewhere (the
 * API disabling a user, an admin changing groups) reaches the portal within that time.
 * Writes through this directory forget the user at once.
 */
export function cachedDirectory(directory: Directory, options: CachedDirectoryOptions = {}): Directory {
  const ttlMs = options.ttlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 5_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { at: number; user: Promise<User | undefined> }>();
  const key = (name: string) => name.toLowerCase();
  return {
    get(name) {
      const k = key(name);
      const hit = entries.get(k);
      if (hit && now() - hit.at < ttlMs) return hit.user;
      // Concurrent requests of one user share one read; a failed read is not kept.
      const user = directory.get(name);
      user.catch(() => entries.delete(k));
      entries.delete(k);
      entries.set(k, { at: now(), user });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
      return user;
    },
    list: () => directory.list(),
    async upsert(user) {
      entries.delete(key(user.name));
      return directory.upsert(user);
    },
    async disable(name) {
      entries.delete(key(name));
      return directory.disable(name);
    },
    async enable(name) {
      entries.delete(key(name));
      return directory.enable(name);
    },
    resetPassword: (name) => directory.resetPassword(name),
  };
}
