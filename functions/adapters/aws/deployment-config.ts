import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { parseProfilesJson } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Profile } from '../../core/ports.ts';
import { decodeAlbPool, encodeAlbPool } from './alb-pool.ts';
import type { AlbPoolEntry } from './alb-router.ts';

/**
 * The deployment's ALB pool and profiles, as one item of the session table: Lambda's
 * 4 KB environment held six balancers at most, a DynamoDB item holds 400 KB. The
 * Routing stack writes it at every deploy that changes it (a CloudFormation custom
 * resource: PutItem, DeleteItem when the stack goes), every Lambda reads it once per
 * cold start with one consistent GetItem (functions/wiring/aws.ts), and the simulated
 * account writes it from the synthesized template the same way (test/aws-sim/deploy.ts).
 *
 * Chosen over an SSM parameter: a standard parameter holds 4 KB (50 listener ARNs are
 * about 5.5 KB) and an advanced one 8 KB at a monthly price, while every function already
 * reads this table, so no new service, permission or endpoint is involved.
 *
 * The attributes are strings: `pool` the HTTPS listener ARNs comma-separated (hosts and
 * load balancer ARNs follow from them, alb-pool.ts), `profiles` a JSON array.
 */
export const DEPLOYMENT_CONFIG_KEY = { pk: 'CONFIG#deployment', sk: 'CONFIG' } as const;

/** The item's attributes (besides the key), as the stacks write them (DynamoDB JSON: strings). */
export interface DeploymentConfigAttributes {
  pool: string;
  profiles: string;
}

export interface DeploymentConfig {
  pool: AlbPoolEntry[];
  profiles: Profile[];
}

const itemSchema = z.object({
  pool: z.string().min(1, 'must list the HTTPS listener ARNs of the pool'),
  profiles: z.string().transform(parseProfilesJson),
});

/** Parses the item; `domain` gives the pool hosts (names.ts poolHost). */
export function parseDeploymentConfig(
  item: object | undefined,
  domain: string,
  where: string,
): DeploymentConfig {
  if (!item)
    throw new ConfigError(
      `The deployment's configuration (item ${DEPLOYMENT_CONFIG_KEY.pk} in ${where}) is missing. ` +
        'The Routing stack writes it on deploy: run `npx sst deploy` for this stage again.',
    );
  const result = itemSchema.safeParse(item);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`);
    throw new ConfigError(
      `The deployment's configuration (item ${DEPLOYMENT_CONFIG_KEY.pk} in ${where}) is not valid:\n  ${problems.join('\n  ')}\nRun \`npx sst deploy\` for this stage again.`,
    );
  }
  let pool: AlbPoolEntry[];
  try {
    pool = decodeAlbPool(result.data.pool, domain);
  } catch (error) {
    throw new ConfigError(
      `The deployment's configuration (item ${DEPLOYMENT_CONFIG_KEY.pk} in ${where}) has a bad pool: ${(error as Error).message}`,
    );
  }
  if (pool.length === 0)
    throw new ConfigError(
      `The deployment's configuration (item ${DEPLOYMENT_CONFIG_KEY.pk} in ${where}) lists no load balancer.`,
    );
  return { pool, profiles: result.data.profiles };
}

/** Reads the item (one consistent GetItem): once per Lambda instance. */
export async function readDeploymentConfig(
  doc: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  domain: string,
): Promise<DeploymentConfig> {
  const answer = await doc.send(
    new GetCommand({ TableName: tableName, Key: { ...DEPLOYMENT_CONFIG_KEY }, ConsistentRead: true }),
  );
  return parseDeploymentConfig(answer.Item, domain, `table ${tableName}`);
}

/** The item's attributes for a pool (listener ARNs, in pool order) and the stage's profiles: what the stacks write. */
export function deploymentConfigAttributes(
  listenerArns: string[],
  profiles: readonly Profile[],
): DeploymentConfigAttributes {
  return { pool: encodeAlbPool(listenerArns), profiles: JSON.stringify(profiles) };
}

/**
 * What decides the item at synthesis, digested (the listener ARNs are deploy-time tokens,
 * so the pool's size and the balancers' name prefix stand for them): the stacks put it in
 * every function's environment (HUBLESS_CONFIG_DIGEST), so a deploy that changes the item
 * also updates every function and no warm instance keeps the pool or profiles it read.
 */
export function deploymentConfigDigest(
  pool: { size: number; namePrefix: string },
  profiles: readonly Profile[],
): string {
  return createHash('sha256').update(JSON.stringify({ pool, profiles })).digest('base64url').slice(0, 16);
}
