import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { LeaseStore } from '../../core/culling/ports.ts';
import { ThrottledError } from '../../core/errors.ts';
import { type Clock, systemClock } from '../../core/ports.ts';
import { keyPrefix, TABLE_KEYS } from './schema.ts';

export interface DynamoLeaseStoreOptions {
  client: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  clock?: Clock;
}

const LEASE_SORT_KEY = 'LEASE';

/**
 * LeaseStore on the hubless table: one item per lease (pk `LEASE#<name>`, sk `LEASE`).
 * Taking it is a single conditional Put, so two culler invocations racing for it
 * cannot both win: the item must be absent, expired, or already ours. `expiresAt` is
 * also the table's TTL attribute, so forgotten leases disappear on their own
 * (late, hence the explicit expiry check in the condition).
 */
export class DynamoLeaseStore implements LeaseStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;
  readonly #clock: Clock;

  constructor(options: DynamoLeaseStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#clock = options.clock ?? systemClock;
  }

  async acquire(name: string, holder: string, ttlSeconds: number): Promise<boolean> {
    const now = Math.floor(this.#clock.now().getTime() / 1000);
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...leaseKey(name),
            holder,
            expiresAt: now + ttlSeconds,
            acquiredAt: new Date(now * 1000).toISOString(),
          },
          // Free the second it runs out (expiresAt is the first second it no longer holds),
          // as MemoryLeaseStore: the LeaseStore contract (test/contract/lease-store.contract.ts).
          ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt <= :now OR #holder = :holder',
          ExpressionAttributeNames: {
            '#pk': TABLE_KEYS.partitionKey,
            '#expiresAt': TABLE_KEYS.ttlAttribute,
            '#holder': 'holder',
          },
          ExpressionAttributeValues: { ':now': now, ':holder': holder },
        }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw translate(error, this.#tableName);
    }
  }

  async release(name: string, holder: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#tableName,
          Key: leaseKey(name),
          // Only our own lease: after expiry another sweep may hold it now.
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': 'holder' },
          ExpressionAttributeValues: { ':holder': holder },
        }),
      );
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return;
      throw translate(error, this.#tableName);
    }
  }
}

function leaseKey(name: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${keyPrefix.lease}${name}`, [TABLE_KEYS.sortKey]: LEASE_SORT_KEY };
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function translate(error: unknown, tableName: string): unknown {
  const name = errorName(error);
  if (
    name === 'ProvisionedThroughputExceededException' ||
    name === 'ThrottlingException' ||
    name === 'RequestLimitExceeded'
  ) {
    return new ThrottledError(
      `DynamoDB kept throttling the culler lease on table "${tableName}" (${name}); the next scheduled sweep will try again.`,
      {
        cause: error,
      },
    );
  }
  return error;
}
