import '../support/aws-calls/checked.ts';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DynamoServiceTokenStore } from '../../functions/adapters/dynamodb/service-token-store.ts';
import { FileServiceTokenStore } from '../../functions/adapters/local/service-tokens.ts';
import { MemoryServiceTokenStore } from '../fakes/memory-service-tokens.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeServiceTokenStoreContract } from './service-token-store.contract.ts';

const dynamo = useTestDynamo();

describeServiceTokenStoreContract('MemoryServiceTokenStore', async () => new MemoryServiceTokenStore());
describeServiceTokenStoreContract(
  'FileServiceTokenStore (local mode)',
  async () => new FileServiceTokenStore({ dataDir: await mkdtemp(join(tmpdir(), 'hubless-tokens-')) }),
);
describeServiceTokenStoreContract(
  'DynamoServiceTokenStore on DynamoDB Local',
  async () => new DynamoServiceTokenStore({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);

it('FileServiceTokenStore keeps its file readable by the owner only, and says how to recover from a broken one', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'hubless-tokens-'));
  const store = new FileServiceTokenStore({ dataDir });
  await store.put({
    id: 'a1b2c3d4e5f6',
    name: 'x',
    scopes: [],
    culls: false,
    hash: '00',
    createdAt: '2026-11-01T00:00:00.000Z',
    createdBy: 't',
  });
  expect((await stat(join(dataDir, 'service-tokens.json'))).mode & 0o777).toBe(0o600);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dataDir, 'service-tokens.json'), '{oops');
  await expect(store.list()).rejects.toThrow(
    /service-tokens\.json is not valid JSON.*fix it by hand.*removing it revokes every service token/,
  );
});
