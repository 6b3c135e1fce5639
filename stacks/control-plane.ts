import { Stack as CdkStack } from 'aws-cdk-lib';
import type { UserPool, UserPoolClient, UserPoolDomain } from 'aws-cdk-lib/aws-cognito';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import type { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import type { Cluster } from 'aws-cdk-lib/aws-ecs';
import type { AccessPoint, FileSystem } from 'aws-cdk-lib/aws-efs';
import { Effect, type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import type { Function as SstFunction } from 'sst/constructs';
import { sessionsPerAlb } from '../functions/adapters/aws/alb-slots.ts';
import { deploymentConfigDigest } from '../functions/adapters/aws/deployment-config.ts';
import {
  type LambdaEnvName,
  TARGET_GROUP_PREFIX,
  taskFamilyPrefix,
} from '../functions/adapters/aws/names.ts';
import type { SettingsEnvName } from '../functions/core/config.ts';
import type { StageConfig } from './config.ts';
import { federationPolicy } from './federation.ts';
/** Priority of the catch-all portal rule on every HTTPS listener; session rules use lower numbers. */
export const PORTAL_RULE_PRIORITY = 50_000;

/** Everything the control-plane Lambdas act on, gathered from the stacks that own it. */
export interface ControlPlane {
  config: StageConfig;
  stage: string;
  table: Table;
  vpc: IVpc;
  /** Subnets lab tasks run in (public by default, private behind NAT with labNetwork "private-nat"). */
  labSubnetIds: string[];
  labSecurityGroup: ISecurityGroup;
  cluster: Cluster;
  labImage: DockerImageAsset;
  labLogGroup: ILogGroup;
  executionRole: IRole;
  labTaskRole: IRole;
  fileSystem: FileSystem;
  /** The shared data's access point, when the stage has shared data. */
  sharedAccessPoint?: AccessPoint;
  /** The secret holding the lab token key. */
  labTokenKey: ISecret;
  /** Where starts leave their launches (Compute.ts). */
  launchQueue: IQueue;
  userPool: UserPool;
  albClient: UserPoolClient;
  loginDomain: UserPoolDomain;
  /** HTTPS listener ARNs of the ALB pool, in pool order. */
  listenerArns: string[];
  /** Load balancer ARNs of the pool, in pool order (labs verify the identity header against them). */
  loadBalancerArns: string[];
  /** Host names of the ALB pool, in pool order (names.ts poolHost). */
  hosts: string[];
  /** Name prefix shared by the pool's load balancers (names are `<prefix><index>`). */
  loadBalancerNamePrefix: string;
}

/**
 * What every control-plane Lambda is given: each name functions/wiring/aws-settings.ts
 * parses (the list in functions/adapters/aws/names.ts) and core settings of the stage. The type makes a missing or unknown name a
 * compile error on either side.
 *
 * Lambda allows 4 KB of environment in total, so what grows with the stage (the ALB pool,
 * the profiles) is not here but in the deployment's configuration item, which the
 * Routing stack writes (functions/adapters/aws/deployment-config.ts); what remains is
 * bounded by stacks/config.ts LIMITS (test/aws-checks/limits.test.ts measures the
 * largest configuration).
 */
export type ControlPlaneEnvironment = Record<
  Exclude<
    LambdaEnvName,
    'HUBLESS_API_CLIENT_IDS' | 'HUBLESS_PROBE_FUNCTION' | 'HUBLESS_SHARED_ACCESS_POINT_ID'
  >,
  string
> &
  Partial<Record<SettingsEnvName | 'HUBLESS_SHARED_ACCESS_POINT_ID', string>>;

/** The environment every control-plane Lambda gets (within 4 KB: see ControlPlaneEnvironment). */
export function controlPlaneEnvironment(cp: ControlPlane): ControlPlaneEnvironment {
  const publicUrl = `https://${cp.config.domain}/`;
  return {
    HUBLESS_STAGE: cp.stage,
    HUBLESS_PUBLIC_URL: publicUrl,
    HUBLESS_TABLE_NAME: cp.table.tableName,
    HUBLESS_CLUSTER_ARN: cp.cluster.clusterArn,
    HUBLESS_SUBNETS: cp.labSubnetIds.join(','),
    // In public subnets a task needs its own address to pull its image and reach the internet.
    HUBLESS_LAB_PUBLIC_IP: cp.config.labNetwork === 'public' ? 'ENABLED' : 'DISABLED',
    HUBLESS_VPC_ID: cp.vpc.vpcId,
    HUBLESS_LAB_SECURITY_GROUPS: cp.labSecurityGroup.securityGroupId,
    HUBLESS_LAB_IMAGE: cp.labImage.imageUri,
    HUBLESS_LAB_CPU_ARCHITECTURE: cp.config.labArchitecture === 'arm64' ? 'ARM64' : 'X86_64',
    HUBLESS_LOG_GROUP: cp.labLogGroup.logGroupName,
    HUBLESS_EXECUTION_ROLE_ARN: cp.executionRole.roleArn,
    HUBLESS_TASK_ROLE_ARN: cp.labTaskRole.roleArn,
    HUBLESS_FILE_SYSTEM_ID: cp.fileSystem.fileSystemId,
    ...(cp.sharedAccessPoint ? { HUBLESS_SHARED_ACCESS_POINT_ID: cp.sharedAccessPoint.accessPointId } : {}),
    HUBLESS_ALB_CAPACITY: String(sessionsPerAlb(cp.config.albRulesQuota)),
    HUBLESS_CONFIG_DIGEST: deploymentConfigDigest(
      { size: cp.listenerArns.length, namePrefix: cp.loadBalancerNamePrefix },
      cp.config.profiles,
    ),
    HUBLESS_USER_POOL_ID: cp.userPool.userPoolId,
    HUBLESS_USER_POOL_ARN: cp.userPool.userPoolArn,
    HUBLESS_USER_POOL_CLIENT_ID: cp.albClient.userPoolClientId,
    HUBLESS_USER_POOL_DOMAIN: cp.loginDomain.domainName,
    HUBLESS_EVENT_BUS_NAME: 'default',
    HUBLESS_LAB_TOKEN_KEY_ARN: cp.labTokenKey.secretArn,
    HUBLESS_LAUNCH_QUEUE_URL: cp.launchQueue.queueUrl,
    HUBLESS_IDLE_TIMEOUT_SECONDS: String(cp.config.idleTimeoutSeconds),
    HUBLESS_MAX_AGE_SECONDS: String(cp.config.maxAgeSeconds),
    HUBLESS_CULL_EVERY_SECONDS: String(cp.config.cullEveryMinutes * 60),
    HUBLESS_NAMED_SERVER_LIMIT: String(cp.config.namedServerLimit),
    // The portal says why a federated user it refuses was not linked (core/federation.ts).
    ...(cp.config.federation
      ? { HUBLESS_FEDERATION_POLICY: JSON.stringify(federationPolicy(cp.config.federation)) }
      : {}),
  };
}

/**
 * What a handler may do, by use case. Each capability is a set of resource-scoped
 * statements; a handler gets only the capabilities its use cases call.
 */
export type Capability =
  | 'sessions'
  | 'launch'
  | 'observe'
  | 'reconcile'
  | 'routes'
  | 'homes'
  | 'directory'
  | 'directory-admin'
  | 'events'
  | 'lab-tokens'
  | 'queue-launches';

export function grantCapabilities(fn: SstFunction, cp: ControlPlane, capabilities: Capability[]): void {
  const stack = CdkStack.of(fn);
  const arn = (service: string, resource: string) =>
    `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
  const clusterName = cp.cluster.clusterName;
  const families = arn('ecs', `task-definition/${taskFamilyPrefix(cp.stage)}*:*`);
  const onThisCluster = { ArnEquals: { 'ecs:cluster': cp.cluster.clusterArn } };
  const wildcardReasons: string[] = [];
  const statements: PolicyStatement[] = [];

  for (const capability of new Set(capabilities)) {
    switch (capability) {
      case 'sessions':
        statements.push(
          new PolicyStatement({
            actions: [
              'dynamodb:GetItem',
              'dynamodb:PutItem',
              'dynamodb:UpdateItem',
              'dynamodb:DeleteItem',
              'dynamodb:Query',
            ],
            resources: [cp.table.tableArn, `${cp.table.tableArn}/index/*`],
          }),
        );
        wildcardReasons.push(
          'dynamodb Query on the state index: the index ARN is <table>/index/<name>, written as /index/*.',
        );
        break;
      case 'launch':
        statements.push(
          // Task definitions are per user (hubless-<stage>-<user>), registered on first start.
          // RegisterTaskDefinition and DescribeTaskDefinition have no resource-level permissions.
          new PolicyStatement({
            actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'],
            resources: ['*'],
          }),
          new PolicyStatement({
            actions: ['ecs:RunTask'],
            resources: [families],
            conditions: onThisCluster,
          }),
          // Tag-on-create for RunTask and RegisterTaskDefinition (the families EcsCompute registers).
          new PolicyStatement({
            actions: ['ecs:TagResource'],
            resources: [arn('ecs', `task/${clusterName}/*`), families],
            conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
          }),
          new PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [cp.executionRole.roleArn, cp.labTaskRole.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
          }),
        );
        wildcardReasons.push(
          'ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition support no resource-level permissions (Resource "*").',
          "ecs:RunTask is limited to this stage's task definitions (hubless-<stage>-*:*) and conditioned on this cluster; tags only on create, only in this cluster.",
        );
        break;
      case 'observe':
        statements.push(
          new PolicyStatement({
            actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
            resources: [arn('ecs', `task/${clusterName}/*`)],
            conditions: onThisCluster,
          }),
        );
        wildcardReasons.push('ecs task ARNs are generated (task/<cluster>/<id>).');
        break;
      case 'reconcile':
        // ListTasks acts on container instances; the cluster condition is what scopes it.
        statements.push(
          new PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions: onThisCluster }),
        );
        wildcardReasons.push('ecs:ListTasks is scoped by the ecs:cluster condition only.');
        break;
      case 'routes': {
        const targetGroups = arn('elasticloadbalancing', `targetgroup/${TARGET_GROUP_PREFIX}*/*`);
        const rules = arn('elasticloadbalancing', `listener-rule/app/${cp.loadBalancerNamePrefix}*/*/*/*`);
        const listeners = arn('elasticloadbalancing', `listener/app/${cp.loadBalancerNamePrefix}*/*/*`);
        statements.push(
          new PolicyStatement({
            actions: [
              'elasticloadbalancing:CreateTargetGroup',
              'elasticloadbalancing:DeleteTargetGroup',
              'elasticloadbalancing:RegisterTargets',
              'elasticloadbalancing:ModifyTargetGroupAttributes',
            ],
            resources: [targetGroups],
          }),
          // The pool's listeners by name, not one ARN each: 50 balancers' ARNs would crowd the role's policy size.
          new PolicyStatement({ actions: ['elasticloadbalancing:CreateRule'], resources: [listeners] }),
          new PolicyStatement({ actions: ['elasticloadbalancing:DeleteRule'], resources: [rules] }),
          new PolicyStatement({
            actions: ['elasticloadbalancing:AddTags'],
            resources: [targetGroups, rules],
          }),
          // Describe* calls in ELB support no resource-level permissions.
          new PolicyStatement({
            actions: [
              'elasticloadbalancing:DescribeTargetHealth',
              'elasticloadbalancing:DescribeRules',
              'elasticloadbalancing:DescribeTargetGroups',
            ],
            resources: ['*'],
          }),
          // CreateRule with an authenticate-cognito action reads the app client it names.
          new PolicyStatement({
            actions: ['cognito-idp:DescribeUserPoolClient'],
            resources: [cp.userPool.userPoolArn],
          }),
        );
        wildcardReasons.push(
          'Session target groups are created at run time: named hl-<session>, so targetgroup/hl-*/*; their rules live on the pool listeners (listener/app/<pool prefix>*/..., listener-rule/app/<pool prefix>*/...).',
          'elasticloadbalancing Describe* actions support no resource-level permissions (Resource "*").',
        );
        break;
      }
      case 'homes':
        statements.push(
          new PolicyStatement({
            actions: ['elasticfilesystem:CreateAccessPoint', 'elasticfilesystem:DescribeAccessPoints'],
            resources: [cp.fileSystem.fileSystemArn],
          }),
          // DescribeAccessPoints by id is authorized on the access point, whose id is generated.
          new PolicyStatement({
            actions: ['elasticfilesystem:DescribeAccessPoints'],
            resources: [arn('elasticfilesystem', 'access-point/*')],
          }),
          new PolicyStatement({
            actions: ['elasticfilesystem:TagResource'],
            resources: [arn('elasticfilesystem', 'access-point/*')],
            conditions: { StringEquals: { 'elasticfilesystem:CreateAction': 'CreateAccessPoint' } },
          }),
        );
        wildcardReasons.push(
          'Access point ids are generated (access-point/fsap-...): read-only describe, and tagging only as part of CreateAccessPoint.',
        );
        break;
      case 'directory':
        statements.push(
          new PolicyStatement({
            actions: [
              'cognito-idp:AdminGetUser',
              'cognito-idp:AdminCreateUser',
              'cognito-idp:AdminSetUserPassword',
              'cognito-idp:AdminUpdateUserAttributes',
              'cognito-idp:AdminDisableUser',
              'cognito-idp:AdminAddUserToGroup',
              'cognito-idp:AdminRemoveUserFromGroup',
              'cognito-idp:AdminListGroupsForUser',
              'cognito-idp:ListUsers',
              'cognito-idp:ListGroups',
              'cognito-idp:ListUsersInGroup',
              'cognito-idp:CreateGroup',
            ],
            resources: [cp.userPool.userPoolArn],
          }),
        );
        break;
      case 'directory-admin':
        // Only the admin page enables a disabled user (the API's DELETE disables; nothing in it enables).
        statements.push(
          new PolicyStatement({
            actions: ['cognito-idp:AdminEnableUser'],
            resources: [cp.userPool.userPoolArn],
          }),
        );
        break;
      case 'lab-tokens':
        // The lab token key (Compute stack), read once per cold start; nothing else in Secrets Manager.
        statements.push(
          new PolicyStatement({
            actions: ['secretsmanager:GetSecretValue'],
            resources: [cp.labTokenKey.secretArn],
          }),
        );
        break;
      case 'queue-launches':
        // Starts only send; the launcher's event source is granted receive and delete (Schedules.ts).
        statements.push(
          new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [cp.launchQueue.queueArn] }),
        );
        break;
      case 'events':
        statements.push(
          new PolicyStatement({
            effect: Effect.ALLOW,
            actions: ['events:PutEvents'],
            resources: [arn('events', 'event-bus/default')],
          }),
        );
        break;
    }
  }
  fn.attachPermissions(statements);
  if (wildcardReasons.length) {
    NagSuppressions.addResourceSuppressions(
      fn,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: `Only where IAM cannot name the resource: ${wildcardReasons.join(' ')}`,
        },
      ],
      true,
    );
  }
}
