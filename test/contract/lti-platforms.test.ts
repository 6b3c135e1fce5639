import '../support/aws-calls/checked.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoLtiPlatforms } from '../../functions/adapters/dynamodb/lti-platforms.ts';
import { LocalLtiPlatforms } from '../../functions/adapters/local/lti-platforms.ts';
import { MemoryLtiPlatforms } from '../fakes/memory-lti-platforms.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeLtiPlatformsContract } from './lti-platforms.contract.ts';

const dynamo = useTestDynamo();

describeLtiPlatformsContract('MemoryLtiPlatforms', async () => new MemoryLtiPlatforms());
describeLtiPlatformsContract(
  'LocalLtiPlatforms (local mode, a file in the data dir)',
  async () => new LocalLtiPlatforms({ dataDir: await mkdtemp(join(tmpdir(), 'hubless-lti-')) }),
);
describeLtiPlatformsContract(
  'DynamoLtiPlatforms on DynamoDB Local',
  async () => new DynamoLtiPlatforms({ client: dynamo.doc, tableName: await dynamo.freshTable() }),
);
