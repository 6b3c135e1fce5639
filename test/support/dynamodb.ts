import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, inject } from 'vitest';
import { ensureTable } from '../../functions/adapters/dynamodb/table.ts';
import {
  createLocalDynamoClients,
  type DynamoDbLocal,
  startDynamoDbLocal,
} from '../../functions/local/dynamodb-local.ts';

/** Set by test/support/dynamodb-global-setup.ts (or by hand) to share one DynamoDB Local across test files. */
export const TEST_DYNAMODB_ENDPOINT_VARIABLE = 'HUBLESS_TEST_DYNAMODB_ENDPOINT';

declare module 'vitest' {
  export interface ProvidedContext {
    hublessTestDynamoEndpoint?: string;
  }
}

export interface TestDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  /** Creates (via ensureTable) a table no other test uses, and returns its name. */
  freshTable(): Promise<string>;
}

/**
 * DynamoDB Local for one test file. Reuses the shared instance the global setup started
 * (provided to workers with `inject`, or named by HUBLESS_TEST_DYNAMODB_ENDPOINT);
 * otherwise starts an in-memory one for this file and stops it afterwards. Tests stay
 * independent by using a fresh table each instead of cleaning up.
 */
export function useTestDynamo(): TestDynamo {
  let local: DynamoDbLocal | undefined;
  let clients: { endpoint: string; client: DynamoDBClient; doc: DynamoDBDocumentClient } | undefined;

  beforeAll(async () => {
    let endpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
    if (!endpoint) {
      local = await startDynamoDbLocal();
      endpoint = local.endpoint;
    }
    clients = { endpoint, ...createLocalDynamoClients(endpoint) };
  });

  afterAll(async () => {
    clients?.client.destroy();
    await local?.stop();
  });

  const ready = (): NonNullable<typeof clients> => {
    if (!clients)
      throw new Error('useTestDynamo(): use the clients inside tests or hooks, not while collecting tests.');
    return clients;
  };

  return {
    get endpoint() {
      return ready().endpoint;
    },
    get client() {
      return ready().client;
    },
    get doc() {
      return ready().doc;
    },
    async freshTable() {
      const name = `test-${randomUUID()}`;
      await ensureTable(ready().client, name);
      return name;
    },
  };
}
