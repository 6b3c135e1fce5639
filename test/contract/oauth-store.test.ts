import '../support/aws-calls/checked.ts';
import { DynamoOAuthStore } from '../../functions/adapters/dynamodb/oauth-store.ts';
import { MemoryOAuthStore } from '../fakes/api-stores.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeOAuthStoreContract } from './oauth-store.contract.ts';

// Real conditions and TTL attributes from DynamoDB Local; a fresh table per test.
const dynamo = useTestDynamo();

describeOAuthStoreContract('MemoryOAuthStore', async () => new MemoryOAuthStore());
describeOAuthStoreContract(
  'DynamoOAuthStore on DynamoDB Local',
  async () => new DynamoOAuthStore({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
