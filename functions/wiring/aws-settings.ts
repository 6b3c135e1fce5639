import * as z from 'zod';
import type { AlbPoolEntry } from '../adapters/aws/alb-router.ts';
import { DEFAULT_CAPACITY_PER_ALB } from '../adapters/aws/alb-slots.ts';
import type { DeploymentConfig } from '../adapters/aws/deployment-config.ts';
import type { LambdaEnvName } from '../adapters/aws/names.ts';
import { parseSettings, type Settings } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';

/**
 * What the Lambda handlers need to know about the deployment, set by the stacks as
 * environment variables (the names of adapters/aws/names.ts, which stacks/ sets).
 * Parsed once per cold start.
 */
const list = z.string().transform((text) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
);

const awsEnvSchema = z.object({
  AWS_REGION: z.string().min(1),
  HUBLESS_STAGE: z.string().min(1),
  HUBLESS_CLUSTER_ARN: z.string().startsWith('arn:'),
  HUBLESS_LAB_IMAGE: z.string().min(1),
  HUBLESS_FILE_SYSTEM_ID: z.string().startsWith('fs-'),
  HUBLESS_SHARED_ACCESS_POINT_ID: z.string().startsWith('fsap-').optional(),
  HUBLESS_EXECUTION_ROLE_ARN: z.string().startsWith('arn:'),
  HUBLESS_TASK_ROLE_ARN: z.string().startsWith('arn:'),
  HUBLESS_SUBNETS: list,
  HUBLESS_LAB_SECURITY_GROUPS: list,
  /** ENABLED where labs run in public subnets (the default network, no NAT gateway). */
  HUBLESS_LAB_PUBLIC_IP: z.enum(['ENABLED', 'DISABLED']).default('DISABLED'),
  HUBLESS_LOG_GROUP: z.string().min(1),
  HUBLESS_LAB_CPU_ARCHITECTURE: z.enum(['X86_64', 'ARM64']).default('X86_64'),
  HUBLESS_VPC_ID: z.string().startsWith('vpc-'),
  /** Sessions per balancer: two rules each, within the ALB's rules and target groups (alb-slots.ts). */
  HUBLESS_ALB_CAPACITY: z.coerce.number().int().min(1).max(99).default(DEFAULT_CAPACITY_PER_ALB),
  /** Not read (names.ts says why). */
  HUBLESS_CONFIG_DIGEST: z.string().optional(),
  HUBLESS_USER_POOL_ID: z.string().min(1),
  HUBLESS_USER_POOL_ARN: z.string().startsWith('arn:'),
  HUBLESS_USER_POOL_CLIENT_ID: z.string().min(1),
  /** The API function only: the app clients whose tokens the APIs accept (LMS clients, the admin client). */
  HUBLESS_API_CLIENT_IDS: list.optional(),
  HUBLESS_USER_POOL_DOMAIN: z.string().min(1),
  HUBLESS_EVENT_BUS_NAME: z.string().default('default'),
  /** The culler only: the in-VPC function that reads labs' activity (stacks/Schedules.ts). */
  HUBLESS_PROBE_FUNCTION: z.string().min(1).optional(),
  HUBLESS_PUBLIC_URL: z.url(),
  /** Where a start leaves its launch for the launcher Lambda (stacks/Compute.ts). */
  HUBLESS_LAUNCH_QUEUE_URL: z.url(),
  HUBLESS_LAB_TOKEN_KEY_ARN: z.string().startsWith('arn:'),
} satisfies Record<'AWS_REGION' | LambdaEnvName, z.ZodType>);

export interface AwsSettings extends Settings {
  aws: z.infer<typeof awsEnvSchema>;
  /** The ALB pool, from the deployment's configuration item (adapters/aws/deployment-config.ts). */
  pool: AlbPoolEntry[];
}

/** The environment's settings, before the configuration item is read (it says where to read it). */
export type AwsEnvironment = Omit<AwsSettings, 'pool'>;

export function parseAwsSettings(env: Record<string, string | undefined>): AwsEnvironment {
  const base = parseSettings(env);
  const result = awsEnvSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) =>
        `${String(issue.path[0])} (got ${env[String(issue.path[0])] === undefined ? 'unset' : JSON.stringify(env[String(issue.path[0])])}): ${issue.message}`,
    );
    throw new ConfigError(`Invalid Lambda configuration (set by the stacks):\n  ${problems.join('\n  ')}`);
  }
  return { ...base, aws: result.data };
}

/** The settings with the deployment's configuration item: its pool, and its profiles (the stacks set no HUBLESS_PROFILES). */
export function withDeploymentConfig(environment: AwsEnvironment, config: DeploymentConfig): AwsSettings {
  return { ...environment, profiles: config.profiles, pool: config.pool };
}
