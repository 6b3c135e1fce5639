import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { EventLog } from '../../core/api/ports.ts';
import type { LifecycleEvent } from '../../core/ports.ts';
import { TABLE_KEYS } from './schema.ts';

/**
 * EventLog on the hubless table: one partition per UTC day, newest read first,
 *
 *   pk EVENTS#<yyyy-mm-dd>   sk <time>#<sessionId>#<type>   expiresAt = time + retention
 *
 * A day's partition takes every event of the deployment; at lifecycle rates (a few
 * events per session) that is far below a partition's 1,000 writes per second. The sort
 * key makes a duplicate publish overwrite itself instead of adding a copy.
 */
export const EVENTS_PREFIX = 'EVENTS#';
const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

export interface DynamoEventLogOptions {
  client: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  /** Days an event is kept (and how far back `recent` looks). Default 14. */
  retentionDays?: number;
}

export class DynamoEventLog implements EventLog {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;
  readonly #retentionDays: number;

  constructor(options: DynamoEventLogOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#retentionDays = options.retentionDays ?? 14;
  }

  async publish(event: LifecycleEvent): Promise<void> {
    const expiresAt = Math.floor(Date.parse(event.time) / 1000) + this.#retentionDays * 86_400;
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          [PK]: `${EVENTS_PREFIX}${event.time.slice(0, 10)}`,
          [SK]: `${event.time}#${event.sessionId}#${event.type}`,
          ...Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined)),
          [TABLE_KEYS.ttlAttribute]: expiresAt,
        },
      }),
    );
  }

  async recent(limit: number, now: Date): Promise<LifecycleEvent[]> {
    const events: LifecycleEvent[] = [];
    const nowSeconds = Math.floor(now.getTime() / 1000);
    for (let day = 0; day <= this.#retentionDays && events.length < limit; day++) {
      const date = new Date(now.getTime() - day * 86_400_000).toISOString().slice(0, 10);
      let startKey: Record<string, unknown> | undefined;
      do {
        const result = await this.#client.send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: '#pk = :pk',
            FilterExpression: '#expiresAt > :now',
            ExpressionAttributeNames: { '#pk': PK, '#expiresAt': TABLE_KEYS.ttlAttribute },
            ExpressionAttributeValues: { ':pk': `${EVENTS_PREFIX}${date}`, ':now': nowSeconds },
            ScanIndexForward: false,
            Limit: limit - events.length,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of result.Items ?? []) events.push(toEvent(item));
        startKey = events.length < limit ? result.LastEvaluatedKey : undefined;
      } while (startKey);
    }
    return events.slice(0, limit);
  }
}

function toEvent(item: Record<string, unknown>): LifecycleEvent {
  const { [PK]: _pk, [SK]: _sk, [TABLE_KEYS.ttlAttribute]: _ttl, ...event } = item;
  return event as unknown as LifecycleEvent;
}
