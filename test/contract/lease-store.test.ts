import '../support/aws-calls/checked.ts';
import { DynamoLeaseStore } from '../../functions/adapters/dynamodb/lease-store.ts';
import { MemoryLeaseStore } from '../../functions/core/culling/memory-lease-store.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeLeaseStoreContract } from './lease-store.contract.ts';

const dynamo = useTestDynamo();

// The culler's unit tests run on MemoryLeaseStore: it keeps the same contract.
describeLeaseStoreContract('MemoryLeaseStore', async (clock) => new MemoryLeaseStore({ clock }));
describeLeaseStoreContract(
  'DynamoLeaseStore on DynamoDB Local',
  async (clock) => new DynamoLeaseStore({ client: dynamo.doc, tableName: await dynamo.freshTable(), clock }),
);
