import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { IdempotencyRecord, LaunchLink, LaunchLinkStore } from '../../core/api/ports.ts';
import { SessionConflictError } from '../../core/errors.ts';
import { TABLE_KEYS } from './schema.ts';

/**
 * LaunchLinkStore on the hubless table:
 *
 *   item kind          pk                          sk      TTL
 *   launch link        LAUNCH#<sha256(token)>      LINK    expiresAt
 *   idempotency key    LAUNCHKEY#<sha256(key)>     KEY     expiresAt
 *
 * No index keys: links are only ever read by their hash. TTL removes them (late), so
 * every condition compares expiresAt itself.
 */
export const LAUNCH_PREFIX = 'LAUNCH#';
export const LAUNCH_KEY_PREFIX = 'LAUNCHKEY#';

export interface DynamoLaunchLinkStoreOptions {
  client: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
}

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

export class DynamoLaunchLinkStore implements LaunchLinkStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(options: DynamoLaunchLinkStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async put(link: LaunchLink): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...linkKey(link.tokenHash), ...withoutUndefined(link) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new SessionConflictError('A launch link with this token already exists.', undefined);
      throw error;
    }
  }

  async get(tokenHash: string): Promise<LaunchLink | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: linkKey(tokenHash), ConsistentRead: true }),
    );
    return result.Item ? (strip(result.Item) as unknown as LaunchLink) : undefined;
  }

  async markUsed(tokenHash: string, user: string, usedAt: string, nowSeconds: number): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: linkKey(tokenHash),
          UpdateExpression: 'SET #usedAt = :usedAt',
          // Single use under concurrency: only the first request finds usedAt absent.
          ConditionExpression:
            'attribute_exists(#pk) AND #user = :user AND attribute_not_exists(#usedAt) AND #expiresAt > :now',
          ExpressionAttributeNames: {
            '#pk': PK,
            '#user': 'user',
            '#usedAt': 'usedAt',
            '#expiresAt': TABLE_KEYS.ttlAttribute,
          },
          ExpressionAttributeValues: { ':user': user, ':usedAt': usedAt, ':now': nowSeconds },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async claimIdempotencyKey(
    record: IdempotencyRecord,
    nowSeconds: number,
  ): Promise<IdempotencyRecord | undefined> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { [PK]: `${LAUNCH_KEY_PREFIX}${record.keyHash}`, [SK]: 'KEY', ...record },
          ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt <= :now',
          ExpressionAttributeNames: { '#pk': PK, '#expiresAt': TABLE_KEYS.ttlAttribute },
          ExpressionAttributeValues: { ':now': nowSeconds },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as Error & { Item?: Record<string, AttributeValue> }).Item;
      if (!old) throw error;
      return strip(unmarshall(old)) as unknown as IdempotencyRecord;
    }
  }
}

function linkKey(tokenHash: string): Record<string, string> {
  return { [PK]: `${LAUNCH_PREFIX}${tokenHash}`, [SK]: 'LINK' };
}

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const { [PK]: _pk, [SK]: _sk, ...rest } = item;
  return rest;
}

function withoutUndefined<T extends object>(value: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
