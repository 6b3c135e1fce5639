import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { EFSClient } from '@aws-sdk/client-efs';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AlbRouter } from '../adapters/aws/alb-router.ts';
import { AlbSlots } from '../adapters/aws/alb-slots.ts';
import { CognitoDirectory } from '../adapters/aws/cognito-directory.ts';
import { CognitoFederatedAccounts } from '../adapters/aws/cognito-federated-accounts.ts';
import { readDeploymentConfig } from '../adapters/aws/deployment-config.ts';
import { EcsCompute } from '../adapters/aws/ecs-compute.ts';
import { EfsHomes } from '../adapters/aws/efs-homes.ts';
import { EventBridgeSink } from '../adapters/aws/eventbridge-sink.ts';
import { secretsManagerKey } from '../adapters/aws/lab-token-key.ts';
import { LambdaActivityProbe } from '../adapters/aws/lambda-probe.ts';
import { lazyClient } from '../adapters/aws/lazy-client.ts';
import { ALB_AUTH, albKeysUrl, cognitoIssuer } from '../adapters/aws/names.ts';
import { DeadlineRetryStrategy, InvocationDeadline } from '../adapters/aws/retry.ts';
import { SqsLaunchQueue } from '../adapters/aws/sqs-launch-queue.ts';
import { LaunchCounter } from '../adapters/dynamodb/launch-counter.ts';
import { JsonLogger } from '../adapters/log/json-logger.ts';
import { EmfMetrics } from '../adapters/metrics/emf.ts';
import { logLevelOf, parseSettings } from '../core/config.ts';
import type { CullerDeps } from '../core/culling/ports.ts';
import type { CoreDeps } from '../core/deps.ts';
import { hmacLabTokens } from '../core/lab-tokens.ts';
import type { ApiDeps } from '../handlers/api/context.ts';
import type { FederatedSignUpDeps } from '../handlers/federated-sign-up.ts';
import type { PortalDeps } from '../handlers/portal/context.ts';
import { type AwsSettings, parseAwsSettings, withDeploymentConfig } from './aws-settings.ts';
import { apiDeps, coreDeps, cullerDeps, type Parts, portalDeps } from './recipe.ts';

/**
 * The AWS set of parts: SDK clients and AWS adapters, built from the settings the stacks
 * set, once per Lambda instance (on its first event, by the getters below), so every
 * later invocation reuses the clients.
 */
export function awsParts(
  settings: AwsSettings,
  logger: JsonLogger,
  deadline: InvocationDeadline,
  doc: Pick<DynamoDBDocumentClient, 'send'> = awsDocumentClient(settings.aws.AWS_REGION, deadline),
): Parts {
  const { aws } = settings;
  const region = aws.AWS_REGION;
  const client = { region, ...awsRetryConfig(deadline) };
  // Every client but the table's is built on its first call (lazy-client.ts): a cold start loads only what its route uses.
  const signers = settings.pool.map((entry) => entry.loadBalancerArn);
  return {
    settings,
    doc,
    compute: new EcsCompute({
      ecs: lazyClient<ECSClient>(() =>
        import('../adapters/aws/sdk/ecs.ts').then((sdk) => new sdk.ECSClient(client)),
      ),
      cluster: aws.HUBLESS_CLUSTER_ARN,
      stage: aws.HUBLESS_STAGE,
      image: aws.HUBLESS_LAB_IMAGE,
      fileSystemId: aws.HUBLESS_FILE_SYSTEM_ID,
      ...(aws.HUBLESS_SHARED_ACCESS_POINT_ID
        ? { sharedAccessPointId: aws.HUBLESS_SHARED_ACCESS_POINT_ID }
        : {}),
      executionRoleArn: aws.HUBLESS_EXECUTION_ROLE_ARN,
      taskRoleArn: aws.HUBLESS_TASK_ROLE_ARN,
      subnets: aws.HUBLESS_SUBNETS,
      assignPublicIp: aws.HUBLESS_LAB_PUBLIC_IP === 'ENABLED',
      securityGroups: aws.HUBLESS_LAB_SECURITY_GROUPS,
      logGroup: aws.HUBLESS_LOG_GROUP,
      region,
      cpuArchitecture: aws.HUBLESS_LAB_CPU_ARCHITECTURE,
    }),
    router: new AlbRouter({
      elb: lazyClient<ElasticLoadBalancingV2Client>(() =>
        import('../adapters/aws/sdk/elb.ts').then((sdk) => new sdk.ElasticLoadBalancingV2Client(client)),
      ),
      slots: new AlbSlots({ doc, tableName: settings.tableName, capacityPerAlb: aws.HUBLESS_ALB_CAPACITY }),
      pool: settings.pool,
      vpcId: aws.HUBLESS_VPC_ID,
      stage: aws.HUBLESS_STAGE,
      log: logger.log,
      cognito: {
        userPoolArn: aws.HUBLESS_USER_POOL_ARN,
        userPoolClientId: aws.HUBLESS_USER_POOL_CLIENT_ID,
        userPoolDomain: aws.HUBLESS_USER_POOL_DOMAIN,
      },
    }),
    homes: new EfsHomes({
      efs: lazyClient<EFSClient>(() =>
        import('../adapters/aws/sdk/efs.ts').then((sdk) => new sdk.EFSClient(client)),
      ),
      fileSystemId: aws.HUBLESS_FILE_SYSTEM_ID,
    }),
    // Starts answer at once; the launcher Lambda launches at Fargate's pace (stacks/Schedules.ts).
    launches: () =>
      new SqsLaunchQueue({
        sqs: lazyClient<SQSClient>(() =>
          import('../adapters/aws/sdk/sqs.ts').then((sdk) => new sdk.SQSClient(client)),
        ),
        queueUrl: aws.HUBLESS_LAUNCH_QUEUE_URL,
        counter: new LaunchCounter({ client: doc, tableName: settings.tableName }),
      }),
    directory: new CognitoDirectory({
      cognito: lazyClient<CognitoIdentityProviderClient>(() =>
        import('../adapters/aws/sdk/cognito.ts').then((sdk) => new sdk.CognitoIdentityProviderClient(client)),
      ),
      userPoolId: aws.HUBLESS_USER_POOL_ID,
    }),
    events: new EventBridgeSink({
      events: lazyClient<EventBridgeClient>(() =>
        import('../adapters/aws/sdk/eventbridge.ts').then((sdk) => new sdk.EventBridgeClient(client)),
      ),
      eventBusName: aws.HUBLESS_EVENT_BUS_NAME,
      log: (message, data) => logger.log('warn', message, data as Record<string, unknown>),
    }),
    // Read once per instance, on the first start or probe (functions that never call a lab never read it).
    labTokens: hmacLabTokens(
      secretsManagerKey({
        secrets: lazyClient<SecretsManagerClient>(() =>
          import('../adapters/aws/sdk/secrets-manager.ts').then(
            (sdk) => new sdk.SecretsManagerClient(client),
          ),
        ),
        secretId: aws.HUBLESS_LAB_TOKEN_KEY_ARN,
      }),
    ),
    log: logger.log,
    metrics: new EmfMetrics({ dimensions: { Stage: aws.HUBLESS_STAGE } }),
    // Labs and the portal verify the ALB's own signature, with keys from the regional key server.
    identity: {
      signers,
      issuer: cognitoIssuer(region, aws.HUBLESS_USER_POOL_ID),
      clientId: aws.HUBLESS_USER_POOL_CLIENT_ID,
      keysUrl: albKeysUrl(region),
    },
    // API Gateway's JWT authorizer already checked Cognito tokens on /api/v1; the
    // handler checks again (and alone on /hub/api, whose "token" scheme it cannot see).
    // Only the LMS clients' and the admin client's tokens: never the ALB client's, whose
    // access tokens every lab a user visits can read (x-amzn-oidc-accesstoken).
    machineTokens: {
      cognito: { userPoolId: aws.HUBLESS_USER_POOL_ID, clientId: apiClientIds(settings) },
      clientIds: apiClientIds(settings),
    },
    portal: { labUi: 'lab', logoutUrl: cognitoLogoutUrl(settings), sessionCookie: ALB_AUTH.sessionCookie },
    api: {
      publicUrl: aws.HUBLESS_PUBLIC_URL,
      tokenUrl: `${cognitoOrigin(settings)}/oauth2/token`,
      // A fixed pool for now: announced classes are measured against it (core/pool/capacity.ts).
      pool: { balancers: settings.pool.length, sessionsPerBalancer: aws.HUBLESS_ALB_CAPACITY },
    },
  };
}

/** The session table's client (the one retry strategy, as every client), built on its first call: the configuration read. */
function awsDocumentClient(
  region: string,
  deadline: InvocationDeadline,
): Pick<DynamoDBDocumentClient, 'send'> {
  return lazyClient<DynamoDBDocumentClient>(() =>
    import('../adapters/aws/sdk/dynamodb.ts').then((sdk) =>
      sdk.documentClient({ region, ...awsRetryConfig(deadline) }),
    ),
  );
}

/** The clients the APIs accept; an empty list accepts none (the stacks always set it on the API). */
function apiClientIds(settings: AwsSettings): string[] {
  return (settings.aws.HUBLESS_API_CLIENT_IDS ?? []).filter(
    (id) => id !== settings.aws.HUBLESS_USER_POOL_CLIENT_ID,
  );
}

/**
 * Signing out must end the Cognito session too, or the ALB signs the user straight back in.
 * Derived here rather than passed in the environment (its 4 KB are spent on the pool and profiles).
 */
function cognitoLogoutUrl(settings: AwsSettings): string {
  const { aws } = settings;
  return `${cognitoOrigin(settings)}/logout?client_id=${aws.HUBLESS_USER_POOL_CLIENT_ID}&logout_uri=${encodeURIComponent(aws.HUBLESS_PUBLIC_URL)}`;
}

/** Cognito's hosted domain: a bare prefix means <prefix>.auth.<region>.amazoncognito.com. */
function cognitoOrigin(settings: AwsSettings): string {
  const domain = settings.aws.HUBLESS_USER_POOL_DOMAIN;
  return domain.includes('.')
    ? `https://${domain}`
    : `https://${domain}.auth.${settings.aws.AWS_REGION}.amazoncognito.com`;
}

/**
 * Requests per AWS call, the first included: the SDK's default is 3; a class starting at
 * once throttles ECS, ELB and Cognito for longer, so more tries, each bounded by the
 * invocation's deadline (docs/aws-api-calls.md, "Retries").
 */
export const AWS_MAX_ATTEMPTS = 6;

/** The one retry strategy of every SDK client (adapters never retry on their own). */
export function awsRetryConfig(
  deadline: InvocationDeadline,
  /** Tests only: a steady jitter. */
  random?: () => number,
): { maxAttempts: number; retryStrategy: DeadlineRetryStrategy } {
  return {
    maxAttempts: AWS_MAX_ATTEMPTS,
    retryStrategy: new DeadlineRetryStrategy({
      maxAttempts: AWS_MAX_ATTEMPTS,
      deadline: () => deadline.get(),
      ...(random ? { random } : {}),
    }),
  };
}

const invocationDeadline = new InvocationDeadline();

/** When the current invocation must have answered by; the Lambda middleware sets it per event. */
export function awsInvocationDeadline(): InvocationDeadline {
  return invocationDeadline;
}

let loggerCache: JsonLogger | undefined;
type Built = { parts: Parts; core: CoreDeps; settings: AwsSettings };
let built: Promise<Built> | undefined;

/** The Lambda's logger; it exists before the settings parse, so it can report their errors. */
export function awsLogger(): JsonLogger {
  loggerCache ??= new JsonLogger({ level: logLevelOf(process.env) });
  return loggerCache;
}

/**
 * The parts and core deps of this Lambda instance, built on its first event: the
 * environment, then the deployment's configuration item (pool and profiles), read once.
 * A failed build is not kept, so the next event tries again.
 */
function awsBuilt(): Promise<Built> {
  built ??= (async () => {
    const environment = parseAwsSettings(process.env);
    const doc = awsDocumentClient(environment.aws.AWS_REGION, invocationDeadline);
    const config = await readDeploymentConfig(
      doc,
      environment.tableName,
      new URL(environment.aws.HUBLESS_PUBLIC_URL).hostname,
    );
    const settings = withDeploymentConfig(environment, config);
    const parts = awsParts(settings, awsLogger(), invocationDeadline, doc);
    return { parts, core: coreDeps(parts), settings };
  })().catch((error: unknown) => {
    built = undefined;
    throw error;
  });
  return built;
}

/*
 * One getter per handler, so a Lambda bundle holds only its own handler's parts. The
 * entry points call theirs once and keep the handler for the instance's life.
 */

export async function awsCoreDeps(): Promise<CoreDeps> {
  return (await awsBuilt()).core;
}

export async function awsPortalDeps(): Promise<PortalDeps> {
  const { parts, core } = await awsBuilt();
  return portalDeps(parts, core);
}

export async function awsApiDeps(): Promise<ApiDeps> {
  const { parts, core } = await awsBuilt();
  return apiDeps(parts, core);
}

export async function awsCullerDeps(): Promise<CullerDeps> {
  const { parts, core, settings } = await awsBuilt();
  // Outside the VPC (the default network), labs are read through the in-VPC probe function.
  const functionName = settings.aws.HUBLESS_PROBE_FUNCTION;
  const probe = functionName
    ? new LambdaActivityProbe({
        lambda: lazyClient<LambdaClient>(() =>
          import('../adapters/aws/sdk/lambda.ts').then(
            (sdk) =>
              new sdk.LambdaClient({
                region: settings.aws.AWS_REGION,
                ...awsRetryConfig(invocationDeadline),
              }),
          ),
        ),
        functionName,
        labTokens: core.labTokens,
      })
    : undefined;
  return cullerDeps({ ...parts, probe }, core);
}

/**
 * The pre sign-up trigger's parts: only Cognito and the federation policy. The trigger is
 * given just HUBLESS_STAGE and HUBLESS_FEDERATION_POLICY (stacks/Identity.ts), so it does
 * not build the control plane's parts; the pool is the one the event names.
 */
export function awsFederatedSignUpDeps(): FederatedSignUpDeps {
  const settings = parseSettings(process.env);
  const client = { region: process.env.AWS_REGION ?? '', ...awsRetryConfig(invocationDeadline) };
  const cognito = lazyClient<CognitoIdentityProviderClient>(() =>
    import('../adapters/aws/sdk/cognito.ts').then((sdk) => new sdk.CognitoIdentityProviderClient(client)),
  );
  const logger = awsLogger();
  return {
    accounts: (userPoolId) =>
      new CognitoFederatedAccounts({
        cognito,
        userPoolId,
        directory: new CognitoDirectory({ cognito, userPoolId }),
      }),
    ...(settings.federation ? { policy: settings.federation } : {}),
    log: logger.log,
  };
}
