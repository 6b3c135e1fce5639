import '../support/aws-calls/checked.ts';
import { DynamoCapacityStore } from '../../functions/adapters/dynamodb/capacity-store.ts';
import { DynamoEventLog } from '../../functions/adapters/dynamodb/event-store.ts';
import { DynamoLaunchLinkStore } from '../../functions/adapters/dynamodb/launch-link-store.ts';
import { DynamoUsageStore } from '../../functions/adapters/dynamodb/usage-store.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import {
  describeCapacityStoreContract,
  describeEventLogContract,
  describeLaunchLinkStoreContract,
  describeUsageStoreContract,
} from './api-stores.contract.ts';

// Real conditions, ADD on sets and TTL attributes from DynamoDB Local; a fresh table per test.
const dynamo = useTestDynamo();

describeLaunchLinkStoreContract(
  'DynamoLaunchLinkStore on DynamoDB Local',
  async () => new DynamoLaunchLinkStore({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
describeUsageStoreContract(
  'DynamoUsageStore on DynamoDB Local',
  async () => new DynamoUsageStore({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
describeEventLogContract(
  'DynamoEventLog on DynamoDB Local',
  async () => new DynamoEventLog({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
describeCapacityStoreContract(
  'DynamoCapacityStore on DynamoDB Local',
  async () => new DynamoCapacityStore({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
