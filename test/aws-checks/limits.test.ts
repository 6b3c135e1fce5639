import { describe, expect, it } from 'vitest';
import { API_SCOPES } from '../../functions/core/api/scopes.ts';
import {
  DEFAULT_ALB_QUOTA,
  FARGATE_MEMORY,
  LIMITS,
  parseStageConfig,
  TEST_STAGE_DEFAULTS,
} from '../../stacks/config.ts';
import { synthesize, TEST_ACCOUNT, TEST_REGION } from '../infra/synth.ts';
import { loadIamModel, stackTemplates } from '../support/aws-iam/index.ts';
import { deploymentConfigFromTemplates } from '../support/deployment-config.ts';

/** Lambda: "the total size of all environment variables doesn't exceed 4 KB" (keys and values). */
const LAMBDA_ENVIRONMENT_BYTES = 4096;
/** DynamoDB: an item (names and values) is at most 400 KB. */
const DYNAMODB_ITEM_BYTES = 400 * 1024;
/** IAM: a role's inline policies together, at most 10,240 characters (whitespace excluded). */
const ROLE_POLICY_CHARACTERS = 10_240;
/** CloudFormation: at most 500 resources and 200 outputs per template. */
const STACK_RESOURCES = 500;
const STACK_OUTPUTS = 200;

/** The largest configuration the schema accepts: every list at its longest, every string at its limit. */
function largestConfig() {
  const label = (length: number, seed: string) => `${seed}${'x'.repeat(length)}`.slice(0, length);
  // A domain of LIMITS.domainLength characters: labels of 63, the last one a TLD.
  const domain = (() => {
    const tld = '.example';
    let name = '';
    while (name.length + tld.length < LIMITS.domainLength) {
      const room = LIMITS.domainLength - tld.length - name.length - (name ? 1 : 0);
      name += `${name ? '.' : ''}${label(Math.min(63, room), 'a')}`;
    }
    return `${name}${tld}`;
  })();
  const [cpu, memories] = Object.entries(FARGATE_MEMORY).at(-1) as [string, readonly number[]];
  return {
    ...TEST_STAGE_DEFAULTS,
    domain,
    albPoolSize: DEFAULT_ALB_QUOTA,
    profiles: Array.from({ length: LIMITS.profiles }, (_, i) => ({
      name: label(LIMITS.profileNameLength, `p${i}`),
      description: label(LIMITS.profileDescriptionLength, `d${i}`),
      cpu: Number(cpu),
      memory: memories.at(-1) as number,
      image: label(LIMITS.profileImageLength, `i${i}`),
      spot: false,
      groups: Array.from({ length: LIMITS.profileGroups }, (_, g) => label(LIMITS.groupNameLength, `g${g}`)),
    })),
    idleTimeoutSeconds: 7 * 86_400,
    maxAgeSeconds: 30 * 86_400,
    cullEveryMinutes: 60,
    lmsClients: Array.from({ length: LIMITS.lmsClients }, (_, i) => ({
      name: label(63, `lms${i}`),
      scopes: [...API_SCOPES],
    })),
  };
}

describe('configuration limits at synthesis', () => {
  it('builds a largest configuration the schema accepts', () => {
    expect(() => parseStageConfig(largestConfig(), 'test')).not.toThrow();
    const tooMany = {
      ...largestConfig(),
      profiles: [...largestConfig().profiles, largestConfig().profiles[0]],
    };
    expect(() => parseStageConfig(tooMany, 'test')).toThrow(/profiles/);
  });

  it('keeps every Lambda’s environment, its policy, the configuration item and each stack within AWS’s limits for the largest configuration (50 balancers)', async () => {
    const synth = await synthesize({ config: largestConfig() });
    const templates = stackTemplates(synth.templates);
    const iam = loadIamModel(templates, { account: TEST_ACCOUNT, region: TEST_REGION });
    const sizes = [...iam.functions.values()].map((fn) => ({
      fn: fn.name,
      bytes: Object.entries(fn.environment).reduce(
        (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(String(value)),
        0,
      ),
      policy: fn.policies.reduce((sum, { document }) => sum + JSON.stringify(document).length, 0),
    }));
    console.info(
      `[limits] largest config: environment bytes ${sizes.map((s) => `${s.fn} ${s.bytes}`).join(', ')}; policy characters ${sizes.map((s) => `${s.fn} ${s.policy}`).join(', ')}`,
    );
    expect(sizes.map((s) => s.fn).sort()).toEqual([
      'api',
      'culler',
      'lab-probe',
      'launcher',
      'portal',
      'task-events',
    ]);
    for (const { fn, bytes, policy } of sizes) {
      expect(bytes, `${fn}'s environment`).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_BYTES);
      expect(policy, `${fn}'s policies`).toBeLessThanOrEqual(ROLE_POLICY_CHARACTERS);
    }
    // The pool and the profiles are in the configuration item instead, all 50 balancers of it.
    const item = deploymentConfigFromTemplates(iam);
    const itemBytes = Object.entries(item).reduce(
      (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(String(value)),
      0,
    );
    console.info(`[limits] configuration item: ${itemBytes} bytes`);
    expect(String(item.pool).split(',')).toHaveLength(DEFAULT_ALB_QUOTA);
    expect(itemBytes).toBeLessThanOrEqual(DYNAMODB_ITEM_BYTES);
    for (const [stack, template] of Object.entries(templates)) {
      const body = template as { Resources?: object; Outputs?: object };
      expect(Object.keys(body.Resources ?? {}).length, `${stack} resources`).toBeLessThanOrEqual(
        STACK_RESOURCES,
      );
      expect(Object.keys(body.Outputs ?? {}).length, `${stack} outputs`).toBeLessThanOrEqual(STACK_OUTPUTS);
    }
  });
});
