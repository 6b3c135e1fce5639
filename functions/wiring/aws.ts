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
import { DynamoEventLog } from '../adapters/dynamodb/event-store.ts';
import { DynamoLaunchLinkStore } from '../adapters/dynamodb/launch-link-store.ts';
import { DynamoLeaseStore } from '../adapters/dynamodb/lease-store.ts';
import { DynamoSessionStore } from '../adapters/dynamodb/session-store.ts';
import { DynamoUsageStore } from '../adapters/dynamodb/usage-store.ts';
import { HttpActivityProbe } from '../adapters/http/activity-probe.ts';
import { createIdentityVerifier } from '../adapters/identity/alb-identity.ts';
import { createMachineTokenVerifier } from '../adapters/identity/machine-token.ts';
import { EmfMetrics } from '../adapters/metrics/emf.ts';
import { withEventMetrics } from '../core/culling/metrics.ts';
import type { CullerDeps } from '../core/culling/ports.ts';
import type { CoreDeps } from '../core/deps.ts';
import { randomHex } from '../core/ids.ts';
import { systemClock } from '../core/ports.ts';
import { teeSink, usageSink } from '../core/use-cases/usage.ts';
import type { ApiDeps } from '../handlers/api/context.ts';
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
let apiCache: ApiDeps | undefined;
let cullerCache: CullerDeps | undefined;
let metricsCache: EmfMetrics | undefined;

function metrics(settings: AwsSettings): EmfMetrics {
  metricsCache ??= new EmfMetrics({ dimensions: { Stage: settings.aws.HUBLESS_STAGE } });
  return metricsCache;
}
let docCache: DynamoDBDocumentClient | undefined;

function documentClient(region: string): DynamoDBDocumentClient {
  docCache ??= DynamoDBDocumentClient.from(new DynamoDBClient({ region }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return docCache;
}

function stores(settings: AwsSettings) {
  const client = documentClient(settings.aws.AWS_REGION);
  const tableName = settings.tableName;
  return {
    usage: new DynamoUsageStore({ client, tableName }),
    eventLog: new DynamoEventLog({ client, tableName }),
    launchLinks: new DynamoLaunchLinkStore({ client, tableName }),
  };
}

/** Cognito's hosted domain: a bare prefix means <prefix>.auth.<region>.amazoncognito.com. */
function cognitoOrigin(settings: AwsSettings): string {
  const domain = settings.aws.HUBLESS_USER_POOL_DOMAIN;
  return domain.includes('.')
    ? `https://${domain}`
    : `https://${domain}.auth.${settings.aws.AWS_REGION}.amazoncognito.com`;
}

export function awsSettings(): AwsSettings {
  settingsCache ??= parseAwsSettings(process.env);
  return settingsCache;
}

export function buildAwsCoreDeps(settings: AwsSettings): CoreDeps {
  const { aws } = settings;
  const region = aws.AWS_REGION;
  const doc = documentClient(region);
  const { usage, eventLog } = stores(settings);
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
      cpuArchitecture: aws.HUBLESS_LAB_CPU_ARCHITECTURE,
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
    directory: new CognitoDirectory({
      cognito: new CognitoIdentityProviderClient({ region }),
      userPoolId: aws.HUBLESS_USER_POOL_ID,
    }),
    // Every lifecycle event also feeds the usage report and the API's event list.
    events: withEventMetrics(
      teeSink(
        new EventBridgeSink({
          events: new EventBridgeClient({ region }),
          eventBusName: aws.HUBLESS_EVENT_BUS_NAME,
        }),
        [usageSink(usage), eventLog],
        logJson,
      ),
      metrics(settings),
    ),
    clock: systemClock,
    settings,
    labEnvironment: () => ({
      // Labs verify the ALB's own signature: keys from the regional ALB key server.
      HUBLESS_IDENTITY_KEYS_URL: `https://public-keys.auth.elb.${region}.amazonaws.com`,
      HUBLESS_IDENTITY_SIGNER: aws.HUBLESS_ALB_POOL.map((entry) => entry.loadBalancerArn).join(','),
      HUBLESS_IDENTITY_ISSUER: issuer,
      HUBLESS_IDENTITY_CLIENT: aws.HUBLESS_USER_POOL_CLIENT_ID,
      HUBLESS_IDLE_TIMEOUT_SECONDS: String(settings.idleTimeoutSeconds),
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
      launchLinks: stores(settings).launchLinks,
    };
  }
  return portalCache;
}

export async function getApiDeps(): Promise<ApiDeps> {
  if (!apiCache) {
    const settings = awsSettings();
    const core = await getCoreDeps();
    const { usage, eventLog, launchLinks } = stores(settings);
    apiCache = {
      core,
      // API Gateway's JWT authorizer already checked Cognito tokens on /api/v1; the
      // handler checks again (and alone on /hub/api, whose "token" scheme it cannot see).
      auth: createMachineTokenVerifier({
        directory: core.directory,
        cognito: { userPoolId: settings.aws.HUBLESS_USER_POOL_ID },
      }),
      launchLinks,
      usage,
      eventLog,
      publicUrl: settings.aws.HUBLESS_PUBLIC_URL,
      tokenUrl: `${cognitoOrigin(settings)}/oauth2/token`,
    };
  }
  return apiCache;
}

export async function getCullerDeps(): Promise<CullerDeps> {
  if (!cullerCache) {
    const settings = awsSettings();
    cullerCache = {
      ...(await getCoreDeps()),
      probe: new HttpActivityProbe(),
      lease: new DynamoLeaseStore({
        client: documentClient(settings.aws.AWS_REGION),
        tableName: settings.tableName,
      }),
      metrics: metrics(settings),
    };
  }
  return cullerCache;
}
