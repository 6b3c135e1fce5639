import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DEPLOYMENT_CONFIG_KEY,
  type DeploymentConfigAttributes,
  deploymentConfigAttributes,
} from '../../functions/adapters/aws/deployment-config.ts';
import type { IamModel } from './aws-iam/index.ts';
import { FAKE_LAMBDA_ENV, FAKE_LISTENER_ARN } from './fake-lambda.ts';

/**
 * The deployment's configuration item as the synthesized template writes it: the Routing
 * stack's custom resource (`DeploymentConfig`, an SDK PutItem run by CloudFormation),
 * every token of its call resolved the way the IAM model resolves the functions'
 * environments. Tests that run the real wiring put it into their table, as a deploy does.
 */
interface SdkCall {
  service: string;
  action: string;
  parameters: { TableName: string; Item: Record<string, { S: string }> };
}

function putCall(iam: IamModel): SdkCall {
  for (const stack of iam.deployment.stackNames) {
    for (const [logicalId, resource] of Object.entries(iam.deployment.resources(stack))) {
      if (resource.Type !== 'Custom::AWS' || !logicalId.startsWith('DeploymentConfig')) continue;
      const create = iam.deployment.resolve(stack, resource.Properties?.Create);
      const call = JSON.parse(String(create)) as SdkCall;
      if (!/^(dynamodb|DynamoDB)$/.test(call.service) || !/^putItem$/i.test(call.action))
        throw new Error(`${stack}/${logicalId} does not put an item: ${call.service}.${call.action}`);
      return call;
    }
  }
  throw new Error('No DeploymentConfig custom resource in the synthesized templates (stacks/Routing.ts)');
}

/** The item's attributes (pk, sk, pool, profiles), as plain strings. */
export function deploymentConfigFromTemplates(iam: IamModel): Record<string, string> {
  const { Item } = putCall(iam).parameters;
  return Object.fromEntries(Object.entries(Item).map(([name, value]) => [name, value.S]));
}

/** Puts the item into `tableName` on DynamoDB at `endpoint`, as the stack's custom resource does on deploy. */
export async function writeDeploymentConfig(
  iam: IamModel,
  endpoint: string,
  tableName: string,
): Promise<void> {
  const { Item } = putCall(iam).parameters;
  const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint });
  try {
    await dynamo.send(new PutItemCommand({ TableName: tableName, Item }));
  } finally {
    dynamo.destroy();
  }
}

/** FAKE_LAMBDA_ENV's configuration item, as the Routing stack would write it: one balancer, one profile. */
export const FAKE_CONFIG_ATTRIBUTES: DeploymentConfigAttributes = deploymentConfigAttributes(
  [FAKE_LISTENER_ARN],
  [{ name: 'small', description: '0.5 vCPU, 2 GiB', cpu: 512, memory: 2048, spot: false, groups: [] }],
);

/**
 * A DynamoDB stand-in on loopback for code that builds the real wiring without DynamoDB
 * (bench/cold-start.ts, the wiring's unit tests): it answers a GetItem of the
 * configuration item in FAKE_LAMBDA_ENV's table with `item()` (no item when it returns
 * undefined) and refuses any other call, naming it, so a new call at cold start fails
 * loudly instead of waiting for a timeout. `gets` counts the GetItems answered.
 */
export async function startConfigStub(
  item: () => Record<string, string> | undefined = () => ({ ...FAKE_CONFIG_ATTRIBUTES }),
): Promise<{ endpoint: string; gets: () => number; stop: () => Promise<void> }> {
  let gets = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as {
        TableName?: string;
        Key?: { pk?: { S?: string } };
      };
      const known =
        target === 'DynamoDB_20120810.GetItem' &&
        body.TableName === FAKE_LAMBDA_ENV.HUBLESS_TABLE_NAME &&
        body.Key?.pk?.S === DEPLOYMENT_CONFIG_KEY.pk;
      let answer: object;
      if (known) {
        gets += 1;
        const attributes = item();
        answer = attributes
          ? {
              Item: Object.fromEntries(
                Object.entries({ ...DEPLOYMENT_CONFIG_KEY, ...attributes }).map(([name, value]) => [
                  name,
                  { S: value },
                ]),
              ),
            }
          : {};
      } else {
        answer = {
          __type: 'com.amazon.coral.validate#ValidationException',
          message: `The configuration stub answers only GetItem of the configuration item, not ${target} ${JSON.stringify(body)}`,
        };
      }
      response.writeHead(known ? 200 : 400, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    gets: () => gets,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
