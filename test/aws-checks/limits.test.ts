import { describe, expect, it } from 'vitest';
import { API_SCOPES } from '../../functions/core/api/scopes.ts';
import {
  FARGATE_MEMORY,
  LIMITS,
  MAX_ALB_POOL_SIZE,
  parseStageConfig,
  TEST_STAGE_DEFAULTS,
} from '../../stacks/config.ts';
import { synthesize, TEST_ACCOUNT, TEST_REGION } from '../infra/synth.ts';
import { loadIamModel, stackTemplates } from '../support/aws-iam/index.ts';

/** Lambda: "the total size of all environment variables doesn't exceed 4 KB" (keys and values). */
const LAMBDA_ENVIRONMENT_BYTES = 4096;

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
    albPoolSize: MAX_ALB_POOL_SIZE,
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

  it('keeps every Lambda’s whole environment within 4 KB for the largest configuration', async () => {
    const synth = await synthesize({ config: largestConfig() });
    const iam = loadIamModel(stackTemplates(synth.templates), { account: TEST_ACCOUNT, region: TEST_REGION });
    const sizes = [...iam.functions.values()].map((fn) => ({
      fn: fn.name,
      bytes: Object.entries(fn.environment).reduce(
        (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(String(value)),
        0,
      ),
    }));
    console.info(
      `[limits] environment bytes, largest config: ${sizes.map((s) => `${s.fn} ${s.bytes}`).join(', ')}`,
    );
    expect(sizes.map((s) => s.fn).sort()).toEqual([
      'api',
      'culler',
      'lab-probe',
      'launcher',
      'portal',
      'task-events',
    ]);
    for (const { fn, bytes } of sizes)
      expect(bytes, `${fn}'s environment`).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_BYTES);
  });
});
