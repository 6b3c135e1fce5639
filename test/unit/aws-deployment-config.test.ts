import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  DEPLOYMENT_CONFIG_KEY,
  deploymentConfigAttributes,
  deploymentConfigDigest,
  parseDeploymentConfig,
  readDeploymentConfig,
} from '../../functions/adapters/aws/deployment-config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import type { Profile } from '../../functions/core/ports.ts';

/** The deployment's configuration item: what the stacks write is what every cold start reads. */

const LISTENER =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/hl-prod-0/50dc6c495c0c9188/f2f7dc8efc522ab2';
const PROFILES: Profile[] = [
  { name: 'small', description: '0.5 vCPU, 2 GiB', cpu: 512, memory: 2048, spot: false, groups: [] },
  { name: 'gpu', description: '4 vCPU, 16 GiB', cpu: 4096, memory: 16384, spot: true, groups: ['ml'] },
];

function failure(item: object | undefined): string {
  try {
    parseDeploymentConfig(item, 'labs.example.edu', 'table hl-prod');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the item to be refused');
}

describe('the deployment configuration item', () => {
  it('reads back the pool (hosts and balancers derived) and the profiles the stacks wrote', () => {
    const second = LISTENER.replace('hl-prod-0', 'hl-prod-1');
    const item = { ...DEPLOYMENT_CONFIG_KEY, ...deploymentConfigAttributes([LISTENER, second], PROFILES) };
    const config = parseDeploymentConfig(item, 'labs.example.edu', 'table hl-prod');
    expect(config.profiles).toEqual(PROFILES);
    expect(config.pool.map((entry) => [entry.host, entry.listenerArn])).toEqual([
      ['labs.example.edu', LISTENER],
      ['pool1.labs.example.edu', second],
    ]);
    expect(config.pool[1]?.loadBalancerArn).toBe(
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hl-prod-1/50dc6c495c0c9188',
    );
  });

  it('says a missing item is fixed by deploying again, naming the item and the table', () => {
    const message = failure(undefined);
    expect(message).toContain('CONFIG#deployment');
    expect(message).toContain('table hl-prod');
    expect(message).toContain('is missing');
    expect(message).toContain('npx sst deploy');
  });

  it('names the attribute that is wrong', () => {
    const good = deploymentConfigAttributes([LISTENER], PROFILES);
    expect(failure({ ...good, profiles: 'not json' })).toMatch(/profiles: must be a JSON array of profiles/);
    expect(failure({ ...good, profiles: '[]' })).toMatch(/profiles: must be a JSON array of profiles/);
    expect(failure({ ...good, profiles: '[{"name":"Bad Name"}]' })).toMatch(/profiles: /);
    expect(failure({ ...good, pool: '' })).toMatch(/pool: must list the HTTPS listener ARNs/);
    expect(failure({ profiles: good.profiles })).toMatch(/pool: /);
    expect(failure({ ...good, pool: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/y' })).toMatch(
      /has a bad pool: .*targetgroup\/x\/y" is not an Application Load Balancer listener ARN/,
    );
  });

  it('is read with one consistent GetItem of its key', async () => {
    const sent: unknown[] = [];
    const doc = {
      send: async (command: { input: unknown }) => {
        sent.push(command.input);
        return { Item: { ...DEPLOYMENT_CONFIG_KEY, ...deploymentConfigAttributes([LISTENER], PROFILES) } };
      },
    } as unknown as DynamoDBDocumentClient;
    const config = await readDeploymentConfig(doc, 'hl-prod', 'labs.example.edu');
    expect(config.pool).toHaveLength(1);
    expect(sent).toEqual([
      { TableName: 'hl-prod', Key: { pk: 'CONFIG#deployment', sk: 'CONFIG' }, ConsistentRead: true },
    ]);
  });

  it('has a digest for the environment that changes with the pool and the profiles, and only with them', () => {
    const pool = { size: 2, namePrefix: 'hl-prod-' };
    const digest = deploymentConfigDigest(pool, PROFILES);
    expect(deploymentConfigDigest({ ...pool }, structuredClone(PROFILES))).toBe(digest);
    expect(deploymentConfigDigest({ ...pool, size: 3 }, PROFILES)).not.toBe(digest);
    expect(deploymentConfigDigest({ ...pool, namePrefix: 'hl-dev-' }, PROFILES)).not.toBe(digest);
    expect(deploymentConfigDigest(pool, PROFILES.slice(0, 1))).not.toBe(digest);
    expect(deploymentConfigDigest(pool, [{ ...PROFILES[0]!, memory: 4096 }, PROFILES[1]!])).not.toBe(digest);
    expect(digest).toMatch(/^[\w-]{16}$/);
  });
});
