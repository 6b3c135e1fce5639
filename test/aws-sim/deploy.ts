import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_ALB_RULES_QUOTA } from '../../functions/adapters/aws/alb-slots.ts';
import { tableDefinition } from '../../functions/adapters/dynamodb/table.ts';
import { TEST_STAGE_DEFAULTS } from '../../stacks/config.ts';
import { synthesize, TEST_ACCOUNT, TEST_REGION } from '../infra/synth.ts';
import { type IamModel, loadIamModel, stackTemplates } from '../support/aws-iam/index.ts';
import { deploymentConfigFromTemplates, writeDeploymentConfig } from '../support/deployment-config.ts';

/**
 * The app as deployed for a simulated account: the stacks synthesized with `config`
 * (the test stage's defaults, changed by `overrides`), every function's environment
 * resolved. The API function's environment (every other function's, plus the clients
 * its tokens may come from) goes into process.env, since the four simulated Lambdas
 * share one process and so one wiring; DynamoDB points at `dynamoEndpoint`, where the
 * session table is created (under a name of its own, see below) and given the
 * deployment's configuration item (the pool and the profiles), as the Routing stack's
 * custom resource writes it on deploy.
 */
export interface SimDeployment {
  iam: IamModel;
  templates: Record<string, unknown>;
  env: Record<string, string>;
  /** The session table's name in the template; the run uses a table of its own (env.HUBLESS_TABLE_NAME). */
  templateTableName: string;
  /** The pool's HTTPS listener ARNs, in pool order, from the configuration item. */
  listenerArns: string[];
  account: string;
  region: string;
  /**
   * The account's quota of listener rules per ALB: the `albRulesQuota` the deployment is
   * configured with. An operator raises that setting only after AWS has raised the
   * quota (Service Quotas), so the simulated account grants exactly what it says.
   */
  rulesQuota: number;
}

export async function deployForSimulation(options: {
  dynamoEndpoint: string;
  overrides?: Record<string, unknown>;
}): Promise<SimDeployment> {
  const config: Record<string, unknown> = { ...TEST_STAGE_DEFAULTS, ...options.overrides };
  const synth = await synthesize({ config });
  const templates = stackTemplates(synth.templates);
  const iam = loadIamModel(templates, { account: TEST_ACCOUNT, region: TEST_REGION });
  const templateTableName = iam.function('api').environment.HUBLESS_TABLE_NAME ?? '';
  // A table of this run's own: DynamoDB Local is shared with other test files, some of
  // which run the same template. IAM is still evaluated on the template's table (account.ts).
  const env = {
    ...iam.function('api').environment,
    HUBLESS_TABLE_NAME: `${templateTableName}-${randomUUID().slice(0, 8)}`,
  };
  Object.assign(process.env, {
    AWS_REGION: TEST_REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: options.dynamoEndpoint,
    ...env,
  });
  const dynamo = new DynamoDBClient({ region: TEST_REGION, endpoint: options.dynamoEndpoint });
  try {
    await dynamo.send(new CreateTableCommand(tableDefinition(env.HUBLESS_TABLE_NAME ?? '')));
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  } finally {
    dynamo.destroy();
  }
  await writeDeploymentConfig(iam, options.dynamoEndpoint, env.HUBLESS_TABLE_NAME ?? '');
  const listenerArns = String(deploymentConfigFromTemplates(iam).pool).split(',');
  return {
    iam,
    templates,
    env,
    templateTableName,
    listenerArns,
    account: TEST_ACCOUNT,
    region: TEST_REGION,
    rulesQuota: Number(config.albRulesQuota ?? DEFAULT_ALB_RULES_QUOTA),
  };
}
