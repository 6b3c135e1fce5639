import '../support/aws-calls/checked.ts';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeSessionStoreContract } from './session-store.contract.ts';

// Real DynamoDB semantics (conditions, index, paging) from DynamoDB Local; a fresh table per test.
const dynamo = useTestDynamo();

describeSessionStoreContract(
  'DynamoSessionStore on DynamoDB Local',
  async () => new DynamoSessionStore({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
