import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { UsageEntry, UsageStore } from '../../core/api/ports.ts';
import { isConditionFailure } from './launch-link-store.ts';
import { TABLE_KEYS } from './schema.ts';

/**
 * UsageStore on the hubless table: one item per UTC day and user,
 *
 *   pk USAGE#<yyyy-mm-dd>   sk USER#<user>   seconds (number)   sessions (string set)
 *
 * so a report reads one partition per day (a query, never a scan), and a user's day is
 * one item. `add` is an atomic ADD guarded by the session id: a stop event delivered
 * twice counts once. Usage is kept (no TTL): it is what a course is billed on.
 */
export const USAGE_PREFIX = 'USAGE#';
const USER_PREFIX = 'USER#';
const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

export class DynamoUsageStore implements UsageStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(options: { client: Pick<DynamoDBDocumentClient, 'send'>; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async add(entry: UsageEntry & { sessionId: string }): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { [PK]: `${USAGE_PREFIX}${entry.date}`, [SK]: `${USER_PREFIX}${entry.user}` },
          UpdateExpression: 'ADD #seconds :seconds, #sessions :session SET #user = :user, #date = :date',
          ConditionExpression: 'attribute_not_exists(#sessions) OR NOT contains(#sessions, :sessionId)',
          ExpressionAttributeNames: {
            '#seconds': 'seconds',
            '#sessions': 'sessions',
            '#user': 'user',
            '#date': 'date',
          },
          ExpressionAttributeValues: {
            ':seconds': entry.seconds,
            ':session': new Set([entry.sessionId]),
            ':sessionId': entry.sessionId,
            ':user': entry.user,
            ':date': entry.date,
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error; // already counted
    }
  }

  async query(range: { from: string; to: string; user?: string }): Promise<UsageEntry[]> {
    const entries: UsageEntry[] = [];
    for (const date of daysBetween(range.from, range.to)) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const result = await this.#client.send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: range.user ? '#pk = :pk AND #sk = :sk' : '#pk = :pk',
            ExpressionAttributeNames: { '#pk': PK, ...(range.user ? { '#sk': SK } : {}) },
            ExpressionAttributeValues: {
              ':pk': `${USAGE_PREFIX}${date}`,
              ...(range.user ? { ':sk': `${USER_PREFIX}${range.user}` } : {}),
            },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of result.Items ?? []) {
          entries.push({
            user: String(item.user),
            date: String(item.date),
            seconds: Number(item.seconds ?? 0),
          });
        }
        startKey = result.LastEvaluatedKey;
      } while (startKey);
    }
    return entries;
  }
}

/** Every YYYY-MM-DD from `from` to `to`, inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}
