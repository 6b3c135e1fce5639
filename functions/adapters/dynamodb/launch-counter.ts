import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { awsCaller } from '../aws/retry.ts';
import { keyPrefix, TABLE_KEYS } from './schema.ts';

export interface LaunchCounterOptions {
  client: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
}

/** The two counters of the launch queue, in one item of the hubless table (schema.ts). */
export interface LaunchCounts {
  /** Launches ever queued: each enqueue's ticket is this count after it. */
  queued: number;
  /** Launches ever taken off the queue for the first time. */
  taken: number;
}

/**
 * Where a queued launch stands, without reading the queue: one atomic ADD when a launch
 * is queued (its ticket), one when the launcher takes a batch, one read for a progress
 * page (ticket - taken - 1 are ahead of it). SQS cannot say where a message is, and its
 * ApproximateNumberOfMessages is one number for the whole queue, not a student's place.
 * A class of 1,000 makes about 17 writes a second to this item, far below one item's limit.
 */
export class LaunchCounter {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;
  readonly #call = awsCaller('Amazon DynamoDB');

  constructor(options: LaunchCounterOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /** Adds `count` to one counter and returns its new value. */
  async add(counter: keyof LaunchCounts, count: number): Promise<number> {
    const result = await this.#call('UpdateItem', () =>
      this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: launchCounterKey(),
          UpdateExpression: 'ADD #counter :count',
          ExpressionAttributeNames: { '#counter': counter },
          ExpressionAttributeValues: { ':count': count },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return Number(result.Attributes?.[counter] ?? 0);
  }

  /** Both counters; an eventually consistent read is enough for a place shown as "about". */
  async read(): Promise<LaunchCounts> {
    const result = await this.#call('GetItem', () =>
      this.#client.send(new GetCommand({ TableName: this.#tableName, Key: launchCounterKey() })),
    );
    return { queued: Number(result.Item?.queued ?? 0), taken: Number(result.Item?.taken ?? 0) };
  }
}

export function launchCounterKey(): Record<string, string> {
  return {
    [TABLE_KEYS.partitionKey]: `${keyPrefix.launchQueue}launches`,
    [TABLE_KEYS.sortKey]: 'COUNTERS',
  };
}
