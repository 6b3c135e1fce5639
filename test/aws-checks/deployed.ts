import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { tableDefinition } from '../../functions/adapters/dynamodb/table.ts';
import { synthesize, TEST_ACCOUNT, TEST_REGION } from '../infra/synth.ts';
import { type IamModel, loadIamModel, stackTemplates } from '../support/aws-iam/index.ts';
import { writeDeploymentConfig } from '../support/deployment-config.ts';
import { TEST_DYNAMODB_ENDPOINT_VARIABLE } from '../support/dynamodb.ts';

/**
 * The app as if deployed, for tests that run a Lambda's real wiring: synthesizes the
 * stacks, resolves every function's environment, sets `fn`'s in process.env (with the
 * variables the Lambda runtime adds) and points DynamoDB at the shared DynamoDB Local,
 * where the session table gets the template's name and the deployment's configuration
 * item, as the Routing stack writes it on deploy. Other services are left to the
 * test (fakeAwsAccount in ./responder.ts).
 */
export async function deployAs(fn: string): Promise<{ iam: IamModel; templates: Record<string, unknown> }> {
  const synth = await synthesize();
  const templates = stackTemplates(synth.templates);
  const iam = loadIamModel(templates, { account: TEST_ACCOUNT, region: TEST_REGION });
  const endpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  if (!endpoint) throw new Error('Run this in the aws project: it needs the shared DynamoDB Local.');
  Object.assign(process.env, {
    AWS_REGION: TEST_REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    ...iam.function(fn).environment,
  });
  const dynamo = new DynamoDBClient({ region: TEST_REGION, endpoint });
  try {
    await dynamo.send(new CreateTableCommand(tableDefinition(process.env.HUBLESS_TABLE_NAME ?? '')));
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  } finally {
    dynamo.destroy();
  }
  await writeDeploymentConfig(iam, endpoint, process.env.HUBLESS_TABLE_NAME ?? '');
  return { iam, templates };
}
