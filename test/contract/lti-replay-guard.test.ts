import '../support/aws-calls/checked.ts';
import { DynamoLtiReplayGuard } from '../../functions/adapters/dynamodb/lti-replay-guard.ts';
import { MemoryLtiReplayGuard } from '../../functions/core/lti/memory-replay-guard.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeLtiReplayGuardContract } from './lti-replay-guard.contract.ts';

const dynamo = useTestDynamo();

describeLtiReplayGuardContract(
  'MemoryLtiReplayGuard (local mode)',
  async (now) => new MemoryLtiReplayGuard({ now }),
);
describeLtiReplayGuardContract(
  'DynamoLtiReplayGuard on DynamoDB Local (AWS mode)',
  async (now) => new DynamoLtiReplayGuard({ client: dynamo.doc, tableName: await dynamo.freshTable(), now }),
);
