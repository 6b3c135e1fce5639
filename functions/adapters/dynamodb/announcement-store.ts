import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Announcement, AnnouncementStore } from '../../core/announcements.ts';
import { keyPrefix, TABLE_KEYS } from './schema.ts';

const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_KEYS;
const KEY = { [PK]: `${keyPrefix.announcement}CURRENT`, [SK]: 'ANNOUNCEMENT' };

/**
 * The one announcement, as one item of the hubless table (pk `ANNOUNCEMENT#CURRENT`). An
 * announcement with an end time carries it as the TTL too, so the item goes away on its
 * own; TTL deletes late, hence currentAnnouncement's own check.
 */
export class DynamoAnnouncementStore implements AnnouncementStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(options: { client: Pick<DynamoDBDocumentClient, 'send'>; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async get(): Promise<Announcement | undefined> {
    const { Item } = await this.#client.send(new GetCommand({ TableName: this.#tableName, Key: KEY }));
    if (!Item || typeof Item.message !== 'string') return undefined;
    return {
      message: Item.message,
      setBy: String(Item.setBy ?? ''),
      setAt: String(Item.setAt ?? ''),
      ...(typeof Item.endsAt === 'string' ? { endsAt: Item.endsAt } : {}),
    };
  }

  async put(announcement: Announcement): Promise<void> {
    const expires = announcement.endsAt ? Math.ceil(Date.parse(announcement.endsAt) / 1000) : undefined;
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { ...KEY, ...announcement, ...(expires ? { [TTL]: expires } : {}) },
      }),
    );
  }

  async clear(): Promise<void> {
    await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: KEY }));
  }
}
