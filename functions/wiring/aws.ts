import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EFSClient } from '@aws-sdk/client-efs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AlbRouter } from '../adapters/aws/alb-router.ts';
import { AlbSlots } from '../adapters/aws/alb-slots.ts';
import { CognitoDirectory } from '../adapters/aws/cognito-directory.ts';
import { EcsCompute } from '../adapters/aws/ecs-compute.ts';
import { EfsHomes } from '../adapters/aws/efs-homes.ts';
import { EventBridgeSink } from '../adapters/aws/eventbridge-sink.ts';
import { DynamoSessionStore } from '../adapters/dynamodb/session-store.ts';
import { createIdentityVerifier } from '../adapters/identity/alb-identity.ts';
import type { CoreDeps } from '../core/deps.ts';
import { randomHex } from '../core/ids.ts';
import { systemClock } from '../core/ports.ts';
import { logJson } from '../handlers/http.ts';
import type { PortalDeps } from '../handlers/portal/routes.ts';
import { type AwsSettings, parseAwsSettings } from './aws-settings.ts';

/**
 * The AWS column of DESIGN.md section 1. Clients and adapters are built once per cold
 * start (on first use, so importing a handler module costs nothing) and reused by every
 * invocation of that Lambda instance.
 */
let settingsCache: AwsSettings | undefined;
let coreCache: CoreDeps | undefined;
let portalCache: PortalDeps | undefined;

export function awsSettings(): AwsSettings {
  settingsCache ??= parseAwsSettings(process.env);
  return settingsCache;
}

export function buildAwsCoreDeps(settings: AwsSettings): CoreDeps {
  const { aws } = settings;
  const region = aws.AWS_REGION;
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region }), { marshallOptions: { removeUndefinedValues: true } });
  const issuer = `https://cognito-idp.${region}.amazonaws.com/${aws.HUBLESS_USER_POOL_ID}`;
  return {
    store: new DynamoSessionStore({ client: doc, tableName: settings.tableName }),
    compute: new EcsCompute({
      ecs: new ECSClient({ region }),
      cluster: aws.HUBLESS_CLUSTER_ARN,
      stage: aws.HUBLESS_STAGE,
      image: aws.HUBLESS_LAB_IMAGE,
      fileSystemId: aws.HUBLESS_FILE_SYSTEM_ID,
      executionRoleArn: aws.HUBLESS_EXECUTION_ROLE_ARN,
      taskRoleArn: aws.HUBLESS_TASK_ROLE_ARN,
      subnets: aws.HUBLESS_SUBNETS,
      securityGroups: aws.HUBLESS_LAB_SECURITY_GROUPS,
      logGroup: aws.HUBLESS_LOG_GROUP,
      region,
    }),
    router: new AlbRouter({
      elb: new ElasticLoadBalancingV2Client({ region }),
      slots: new AlbSlots({ doc, tableName: settings.tableName, capacityPerAlb: aws.HUBLESS_ALB_CAPACITY }),
      pool: aws.HUBLESS_ALB_POOL,
      vpcId: aws.HUBLESS_VPC_ID,
      stage: aws.HUBLESS_STAGE,
      cognito: {
        userPoolArn: aws.HUBLESS_USER_POOL_ARN,
        userPoolClientId: aws.HUBLESS_USER_POOL_CLIENT_ID,
        userPoolDomain: aws.HUBLESS_USER_POOL_DOMAIN,
      },
    }),
    homes: new EfsHomes({ efs: new EFSClient({ region }), fileSystemId: aws.HUBLESS_FILE_SYSTEM_ID }),
    directory: new CognitoDirectory({ cognito: new CognitoIdentityProviderClient({ region }), userPoolId: aws.HUBLESS_USER_POOL_ID }),
    events: new EventBridgeSink({ events: new EventBridgeClient({ region }), eventBusName: aws.HUBLESS_EVENT_BUS_NAME }),
    clock: systemClock,
    settings,
    labEnvironment: () => ({
      // Labs verify the ALB's own signature: keys from the regional ALB key server.
      HUBLESS_IDENTITY_KEYS_URL: `https://public-keys.auth.elb.${region}.amazonaws.com`,
      HUBLESS_IDENTITY_SIGNER: aws.HUBLESS_ALB_POOL.map((entry) => entry.loadBalancerArn).join(','),
      HUBLESS_IDENTITY_ISSUER: issuer,
      HUBLESS_IDENTITY_CLIENT: aws.HUBLESS_USER_POOL_CLIENT_ID,
      HUBLESS_SHUTDOWN_NO_ACTIVITY_SECONDS: String(settings.idleTimeoutSeconds * 2),
    }),
    randomId: randomHex,
    log: logJson,
  };
}

export async function getCoreDeps(): Promise<CoreDeps> {
  coreCache ??= buildAwsCoreDeps(awsSettings());
  return coreCache;
}

export async function getPortalDeps(): Promise<PortalDeps> {
  if (!portalCache) {
    const settings = awsSettings();
    const { aws } = settings;
    portalCache = {
      core: await getCoreDeps(),
      identity: createIdentityVerifier({
        signer: aws.HUBLESS_ALB_POOL.map((entry) => entry.loadBalancerArn),
        issuer: `https://cognito-idp.${aws.AWS_REGION}.amazonaws.com/${aws.HUBLESS_USER_POOL_ID}`,
        clientId: aws.HUBLESS_USER_POOL_CLIENT_ID,
      }),
      labUi: 'lab',
      logoutUrl: aws.HUBLESS_LOGOUT_URL,
    };
  }
  return portalCache;
}
