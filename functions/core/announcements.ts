import { ValidationError } from './errors.ts';

/**
 * The announcement an administrator sets on the admin page: every portal page and the
 * progress page show it until it ends (JupyterHub's announcement templates, set at run
 * time instead of in the hub's configuration). Kept in the session table, so every
 * portal instance (each Lambda, local mode) reads the same one.
 */
export interface Announcement {
  /** Plain text; pages escape it. */
  message: string;
  /** ISO time after which pages stop showing it; absent: until an administrator clears it. */
  endsAt?: string;
  /** "user:<name>" of the administrator who set it. */
  setBy: string;
  setAt: string;
}

export interface AnnouncementStore {
  /** The stored announcement, ended or not (readers decide with currentAnnouncement). */
  get(): Promise<Announcement | undefined>;
  /** Replaces the announcement. */
  put(announcement: Announcement): Promise<void>;
  /** Removes it. Idempotent. */
  clear(): Promise<void>;
}

/** Long enough for a paragraph; a banner is not a page. */
export const MAX_ANNOUNCEMENT_LENGTH = 500;

/** The announcement pages show now: the stored one unless it has ended. */
export async function currentAnnouncement(
  store: AnnouncementStore,
  now: Date,
): Promise<Announcement | undefined> {
  const stored = await store.get();
  if (!stored) return undefined;
  if (stored.endsAt && Date.parse(stored.endsAt) <= now.getTime()) return undefined;
  return stored;
}

/**
 * Sets the announcement. `endsAt` must parse and lie in the future; a message is required
 * (clearing is clearAnnouncement) and at most MAX_ANNOUNCEMENT_LENGTH characters.
 */
export async function setAnnouncement(
  store: AnnouncementStore,
  input: { message: string; endsAt?: string; by: string },
  now: Date,
): Promise<Announcement> {
  const message = input.message.trim();
  if (!message)
    throw new ValidationError(
      'Write the announcement first (to remove it, use Clear).',
      'empty_announcement',
    );
  if (message.length > MAX_ANNOUNCEMENT_LENGTH)
    throw new ValidationError(
      `An announcement is at most ${MAX_ANNOUNCEMENT_LENGTH} characters (this one has ${message.length}).`,
      'announcement_too_long',
    );
  const announcement: Announcement = { message, setBy: input.by, setAt: now.toISOString() };
  if (input.endsAt) {
    const ends = Date.parse(input.endsAt);
    if (Number.isNaN(ends))
      throw new ValidationError(
        `"${input.endsAt}" is not a time. Give the end as YYYY-MM-DDTHH:MM (UTC), or leave it empty.`,
        'invalid_end_time',
      );
    if (ends <= now.getTime())
      throw new ValidationError(
        'The end time has already passed. Give a later one, or leave it empty.',
        'invalid_end_time',
      );
    announcement.endsAt = new Date(ends).toISOString();
  }
  await store.put(announcement);
  return announcement;
}
