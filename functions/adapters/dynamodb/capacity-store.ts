import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { CapacityStore, StoredAnnouncement } from '../../core/pool/capacity.ts';
import { keyPrefix, TABLE_KEYS } from './schema.ts';

const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_KEYS;
const PARTITION = `${keyPrefix.capacity}classes`;

/** How long a class's item outlives its start: the pool's room for it is gone by then. */
const KEEP_AFTER_START_SECONDS = 7 * 86_400;

/**
 * Classes to come, as items of the hubless table under one partition (pk
 * `CAPACITY#classes`, sk `<at ISO>#<client>`): one per client and start time, so an
 * announcement repeated or corrected replaces the earlier one, and the pool manager reads
 * the ones still ahead with one Query on the sort key. Few items (a school's classes of
 * the next weeks), so one partition is fine. TTL removes them a week after the start.
 */
export class DynamoCapacityStore implements CapacityStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(options: { client: Pick<DynamoDBDocumentClient, 'send'>; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async announce(announcement: StoredAnnouncement): Promise<void> {
    const key = { [PK]: PARTITION, [SK]: `${announcement.at}#${announcement.client}` };
    if (announcement.sessions === 0) {
      await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: key }));
      return;
    }
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          ...key,
          ...announcement,
          [TTL]: Math.ceil(Date.parse(announcement.at) / 1000) + KEEP_AFTER_START_SECONDS,
        },
      }),
    );
  }

  async upcoming(now: Date, holdMs: number): Promise<StoredAnnouncement[]> {
    const from = new Date(now.getTime() - holdMs).toISOString();
    const found: StoredAnnouncement[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: '#pk = :pk AND #sk >= :from',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': PARTITION, ':from': from },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? [])
        found.push({
          client: String(item.client),
          sessions: Number(item.sessions),
          at: String(item.at),
          announcedAt: String(item.announcedAt),
        });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return found;
  }
}
