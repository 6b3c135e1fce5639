import '../support/aws-calls/checked.ts';
import { DynamoAnnouncementStore } from '../../functions/adapters/dynamodb/announcement-store.ts';
import { MemoryAnnouncementStore } from '../fakes/api-stores.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeAnnouncementStoreContract } from './announcement-store.contract.ts';

const dynamo = useTestDynamo();

describeAnnouncementStoreContract('MemoryAnnouncementStore', async () => new MemoryAnnouncementStore());
describeAnnouncementStoreContract(
  'DynamoAnnouncementStore on DynamoDB Local',
  async () => new DynamoAnnouncementStore({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
