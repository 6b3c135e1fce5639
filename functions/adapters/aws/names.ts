import { createHash } from 'node:crypto';

/**
 * Names the stacks (stacks/) and the AWS adapters must agree on, in one place: what an
 * adapter creates at run time is what an IAM statement, written at synthesis, allows.
 * A name built twice drifts (an IAM statement once named `hl-*` task definitions while
 * the adapter registered `hubless-<stage>-*`), so both sides call these functions.
 * Plain values only: no AWS SDK, no CDK, so both sides can import it.
 */

/** The ECS cluster of a stage. */
export function clusterName(stage: string): string {
  return `hubless-${stage}`;
}

/** Task definition families are per user (RunTask cannot override volumes, each home is one). */
export function taskFamily(stage: string, user: string): string {
  return `${taskFamilyPrefix(stage)}${user}`;
}

/** What every task definition family of the stage starts with (IAM: task-definition/<prefix>*). */
export function taskFamilyPrefix(stage: string): string {
  return `hubless-${stage}-`;
}

/** What every session target group name starts with (IAM: targetgroup/<prefix>*). */
export const TARGET_GROUP_PREFIX = 'hl-';

/**
 * The target group of a session: deterministic, so a lost route record can be found
 * again by name, and within ELB's 32-character limit.
 */
export function targetGroupName(stage: string, sessionId: string): string {
  return `${TARGET_GROUP_PREFIX}${createHash('sha256').update(`${stage}:${sessionId}`).digest('hex').slice(0, 29)}`;
}

/** Load balancers of the pool are named `<prefix><index>` (ELB names: 32 characters, letters, digits, hyphens). */
export function loadBalancerNamePrefix(stage: string): string {
  return `${TARGET_GROUP_PREFIX}${stage.replace(/[^a-zA-Z0-9]/g, '').slice(0, 20)}-`;
}

/** The host name load balancer `index` of the pool answers at: the domain, then pool<i>.<domain>. */
export function poolHost(domain: string, index: number): string {
  return index === 0 ? domain : `pool${index}.${domain}`;
}

/**
 * The ALB's `authenticate-cognito` settings, the same on the portal rule (stacks) and
 * on every session rule (AlbRouter): one sign-in and one sign-out cover the portal and
 * every lab only when the rules share the cookie, and a lab rule asking for fewer
 * scopes than the portal's would hand labs a thinner identity.
 */
export const ALB_AUTH = {
  /** The ALB's default cookie name; it splits the session into <name>-0, -1, … when large. */
  sessionCookie: 'AWSELBAuthSessionCookie',
  /** Scopes the ALB asks Cognito for; the ALB app client must allow each. */
  scopes: ['openid', 'email', 'profile'],
  sessionTimeoutSeconds: 12 * 3600,
} as const;

/** Cognito group whose members are hubless admins (the Directory's admin flag). */
export const ADMIN_GROUP = 'admin';

/** The regional key server of ALB-signed identity headers (`<url>/<kid>` answers a PEM). */
export function albKeysUrl(region: string): string {
  return `https://public-keys.auth.elb.${region}.amazonaws.com`;
}

/** The issuer Cognito writes into the tokens of a user pool. */
export function cognitoIssuer(region: string, userPoolId: string): string {
  return `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
}

/**
 * The environment the stacks set on every control-plane Lambda, besides core's own
 * settings (HUBLESS_TABLE_NAME, HUBLESS_PROFILES, … in functions/core/config.ts).
 * functions/wiring/aws-settings.ts parses exactly these names and stacks/control-plane.ts
 * sets exactly these: both are typed against this list, so neither can drift.
 */
export const LAMBDA_ENV_NAMES = [
  'HUBLESS_STAGE',
  'HUBLESS_PUBLIC_URL',
  'HUBLESS_CLUSTER_ARN',
  'HUBLESS_SUBNETS',
  'HUBLESS_LAB_PUBLIC_IP',
  'HUBLESS_VPC_ID',
  'HUBLESS_LAB_SECURITY_GROUPS',
  'HUBLESS_LAB_IMAGE',
  'HUBLESS_LAB_CPU_ARCHITECTURE',
  'HUBLESS_LOG_GROUP',
  'HUBLESS_EXECUTION_ROLE_ARN',
  'HUBLESS_TASK_ROLE_ARN',
  'HUBLESS_FILE_SYSTEM_ID',
  'HUBLESS_ALB_CAPACITY',
  // A digest of what the deployment's configuration item holds (deployment-config.ts): not
  // read, it changes every function's configuration when the item changes, so no warm
  // instance keeps a pool or profiles a deploy replaced.
  'HUBLESS_CONFIG_DIGEST',
  'HUBLESS_USER_POOL_ID',
  'HUBLESS_USER_POOL_ARN',
  'HUBLESS_USER_POOL_CLIENT_ID',
  // The API function only: the app clients whose tokens the APIs accept (never the ALB's).
  'HUBLESS_API_CLIENT_IDS',
  'HUBLESS_USER_POOL_DOMAIN',
  'HUBLESS_EVENT_BUS_NAME',
  // The Secrets Manager secret holding the lab token key (core/lab-tokens.ts).
  'HUBLESS_LAB_TOKEN_KEY_ARN',
  'HUBLESS_PROBE_FUNCTION',
  // The SQS queue starts leave their launches in (the launcher Lambda consumes it).
  'HUBLESS_LAUNCH_QUEUE_URL',
  // The shared data's EFS access point, when the stage has one (stacks/config.ts sharedData).
  'HUBLESS_SHARED_ACCESS_POINT_ID',
] as const;
export type LambdaEnvName = (typeof LAMBDA_ENV_NAMES)[number];

/** Where the class's shared data lives on the homes' file system (the access point's root). */
export const SHARED_DATA_PATH = '/shared';
