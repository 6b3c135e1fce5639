import type { Announcement, AnnouncementStore } from '../../functions/core/announcements.ts';
import type { OAuthAccessToken, OAuthCode, OAuthStore } from '../../functions/core/api/oauth.ts';
import type {
  EventLog,
  IdempotencyRecord,
  LaunchLink,
  LaunchLinkStore,
  UsageEntry,
  UsageStore,
} from '../../functions/core/api/ports.ts';
import { SessionConflictError } from '../../functions/core/errors.ts';
import type { CapacityStore, StoredAnnouncement } from '../../functions/core/pool/capacity.ts';
import type { LifecycleEvent } from '../../functions/core/ports.ts';

/**
 * In-memory stores of the machine API with the DynamoDB adapters' semantics (checked by
 * the same contract suite, test/contract/api-stores.contract.ts). Each method checks
 * and writes without awaiting in between, as atomic as a conditional write.
 */
export class MemoryLaunchLinkStore implements LaunchLinkStore {
  readonly links = new Map<string, LaunchLink>();
  readonly keys = new Map<string, IdempotencyRecord>();

  async put(link: LaunchLink): Promise<void> {
    if (this.links.has(link.tokenHash))
      throw new SessionConflictError('A launch link with this token already exists.', undefined);
    this.links.set(link.tokenHash, structuredClone(link));
  }

  async get(tokenHash: string): Promise<LaunchLink | undefined> {
    const link = this.links.get(tokenHash);
    return link && structuredClone(link);
  }

  async markUsed(tokenHash: string, user: string, usedAt: string, nowSeconds: number): Promise<boolean> {
    const link = this.links.get(tokenHash);
    if (!link || link.user !== user || link.usedAt || link.expiresAt <= nowSeconds) return false;
    link.usedAt = usedAt;
    return true;
  }

  async claimIdempotencyKey(
    record: IdempotencyRecord,
    nowSeconds: number,
  ): Promise<IdempotencyRecord | undefined> {
    const existing = this.keys.get(record.keyHash);
    if (existing && existing.expiresAt > nowSeconds) return structuredClone(existing);
    this.keys.set(record.keyHash, structuredClone(record));
    return undefined;
  }
}

export class MemoryUsageStore implements UsageStore {
  readonly items = new Map<string, { entry: UsageEntry; sessions: Set<string> }>();

  async add(entry: UsageEntry & { sessionId: string }): Promise<void> {
    const key = `${entry.date}\u0000${entry.user}`;
    const item = this.items.get(key) ?? {
      entry: { user: entry.user, date: entry.date, seconds: 0 },
      sessions: new Set<string>(),
    };
    if (item.sessions.has(entry.sessionId)) return;
    item.sessions.add(entry.sessionId);
    item.entry.seconds += entry.seconds;
    this.items.set(key, item);
  }

  async query(range: { from: string; to: string; user?: string }): Promise<UsageEntry[]> {
    return [...this.items.values()]
      .map(({ entry }) => ({ ...entry }))
      .filter(
        (e) =>
          e.date >= range.from && e.date <= range.to && (range.user === undefined || e.user === range.user),
      )
      .sort((a, b) => a.date.localeCompare(b.date) || a.user.localeCompare(b.user));
  }
}

export class MemoryEventLog implements EventLog {
  readonly events = new Map<string, LifecycleEvent>();
  readonly #retentionDays: number;
  constructor(retentionDays = 14) {
    this.#retentionDays = retentionDays;
  }

  async publish(event: LifecycleEvent): Promise<void> {
    this.events.set(`${event.time}#${event.sessionId}#${event.type}`, structuredClone(event));
  }

  async recent(limit: number, now: Date): Promise<LifecycleEvent[]> {
    const oldest = now.getTime() - this.#retentionDays * 86_400_000;
    return [...this.events.entries()]
      .filter(([, e]) => Date.parse(e.time) > oldest)
      .sort(([a], [b]) => (a < b ? 1 : -1))
      .slice(0, limit)
      .map(([, e]) => structuredClone(e));
  }
}

/** The announcement in memory (DynamoAnnouncementStore's semantics, same contract). */
export class MemoryAnnouncementStore implements AnnouncementStore {
  #current: Announcement | undefined;
  async get(): Promise<Announcement | undefined> {
    return this.#current ? { ...this.#current } : undefined;
  }
  async put(announcement: Announcement): Promise<void> {
    this.#current = { ...announcement };
  }
  async clear(): Promise<void> {
    this.#current = undefined;
  }
}

/** OAuthStore in memory, with DynamoOAuthStore's semantics (test/contract/oauth-store.contract.ts). */
export class MemoryOAuthStore implements OAuthStore {
  readonly codes = new Map<string, OAuthCode>();
  readonly tokens = new Map<string, OAuthAccessToken>();

  async putCode(code: OAuthCode): Promise<void> {
    if (this.codes.has(code.codeHash))
      throw new SessionConflictError('An OAuth code with this hash already exists.', undefined);
    this.codes.set(code.codeHash, structuredClone(code));
  }

  async getCode(codeHash: string): Promise<OAuthCode | undefined> {
    const code = this.codes.get(codeHash);
    return code && structuredClone(code);
  }

  async useCode(
    codeHash: string,
    accessTokenId: string,
    usedAt: string,
    nowSeconds: number,
  ): Promise<boolean> {
    const code = this.codes.get(codeHash);
    if (!code || code.usedAt || code.expiresAt <= nowSeconds) return false;
    code.usedAt = usedAt;
    code.accessTokenId = accessTokenId;
    return true;
  }

  async putToken(token: OAuthAccessToken): Promise<void> {
    if (this.tokens.has(token.id))
      throw new SessionConflictError(`An OAuth token with the id ${token.id} already exists.`, undefined);
    this.tokens.set(token.id, structuredClone(token));
  }

  async getToken(id: string): Promise<OAuthAccessToken | undefined> {
    const token = this.tokens.get(id);
    return token && structuredClone(token);
  }

  async deleteToken(id: string): Promise<void> {
    this.tokens.delete(id);
  }
}

/** Classes announced in memory: one per client and start time, as the DynamoDB store keeps them. */
export class MemoryCapacityStore implements CapacityStore {
  readonly #byKey = new Map<string, StoredAnnouncement>();

  async announce(announcement: StoredAnnouncement): Promise<void> {
    const key = `${announcement.at}#${announcement.client}`;
    if (announcement.sessions === 0) this.#byKey.delete(key);
    else this.#byKey.set(key, { ...announcement });
  }

  async upcoming(now: Date, holdMs: number): Promise<StoredAnnouncement[]> {
    const from = now.getTime() - holdMs;
    return [...this.#byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, announcement]) => ({ ...announcement }))
      .filter((announcement) => Date.parse(announcement.at) >= from);
  }
}
