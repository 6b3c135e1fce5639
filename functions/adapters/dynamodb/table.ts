import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { TABLE_KEYS } from './schema.ts';

/**
 * The hubless table as CreateTable input (see schema.ts for the key design). On-demand
 * billing: the control plane's traffic is bursty (a class logs in at 9:00) and idle
 * otherwise, so provisioned capacity would either throttle or cost money for nothing.
 */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, stateIndex, stateIndexPartitionKey, stateIndexSortKey } = TABLE_KEYS;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: 'S' },
      { AttributeName: sortKey, AttributeType: 'S' },
      { AttributeName: stateIndexPartitionKey, AttributeType: 'S' },
      { AttributeName: stateIndexSortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: stateIndex,
        KeySchema: [
          { AttributeName: stateIndexPartitionKey, KeyType: 'HASH' },
          { AttributeName: stateIndexSortKey, KeyType: 'RANGE' },
        ],
        // ALL: the culler acts on whole sessions; a KEYS_ONLY index would cost a read per item.
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

export interface EnsureTableOptions {
  /** How long to wait for the table to become ACTIVE. Default 120 s. */
  maxWaitSeconds?: number;
}

/**
 * Creates the table if it is missing, waits until it is ACTIVE and turns on TTL for
 * `expiresAt`. Idempotent, and safe when two processes race (local mode's CLI and a
 * test run, say): whoever loses the CreateTable or UpdateTimeToLive race takes the
 * winner's result instead of failing.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: EnsureTableOptions = {},
): Promise<void> {
  if (!(await tableExists(client, tableName))) {
    try {
      await client.send(new CreateTableCommand(tableDefinition(tableName)));
    } catch (error) {
      if (errorName(error) !== 'ResourceInUseException') throw error; // another process created it first
    }
  }
  await waitUntilTableExists(
    { client, maxWaitTime: options.maxWaitSeconds ?? 120, minDelay: 1, maxDelay: 5 },
    { TableName: tableName },
  );
  await ensureTimeToLive(client, tableName);
}

async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return false;
    throw error;
  }
}

async function ensureTimeToLive(client: DynamoDBClient, tableName: string): Promise<void> {
  const described = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = described.TimeToLiveDescription?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') return;
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    // A racing process enabled it between our describe and update; DynamoDB answers
    // "TimeToLive is already enabled" as a ValidationException.
    if (
      errorName(error) === 'ValidationException' &&
      /already enabled/i.test(String((error as Error).message))
    )
      return;
    throw error;
  }
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
