import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Cluster, ContainerInsights } from 'aws-cdk-lib/aws-ecs';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { type StackContext, use } from 'sst/constructs';
import { clusterName } from '../functions/adapters/aws/names.ts';
import { useStageConfig } from './config.ts';
import { retentionDays } from './lambda.ts';
import { Network } from './Network.ts';

/** How long the launcher may take for one batch of launches (its Lambda timeout). */
export const LAUNCHER_TIMEOUT = Duration.seconds(30);
/**
 * A launch handed back (AWS was busy) is retried after this. Three times the launcher's
 * timeout, so a batch still running is never delivered twice; not AWS's suggested six,
 * which guards against throttled invocations the launcher's bounded concurrency does not
 * have, and would keep a student waiting minutes for a retry.
 */
export const LAUNCH_VISIBILITY_TIMEOUT = Duration.seconds(90);
/** Tries of one launch before it goes to the dead-letter queue. */
export const LAUNCH_MAX_RECEIVES = 5;

/** The lab image build directory (its Dockerfile is owned by containers/lab). */
export const LAB_IMAGE_DIRECTORY = 'containers/lab';

/**
 * Where labs run: an ECS cluster with Fargate and Fargate Spot, the lab image, and the
 * roles and log group that per-user task definitions (registered by the Lambdas at the
 * first start of each user) refer to.
 */
export function Compute({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { vpc } = use(Network);

  const cluster = new Cluster(stack, 'Labs', {
    vpc,
    clusterName: clusterName(app.stage),
    enableFargateCapacityProviders: true,
    containerInsightsV2: ContainerInsights.ENABLED,
  });

  // Built and pushed by `sst deploy` (CDK builds image assets at publish time, not at synthesis).
  const labImage = new DockerImageAsset(stack, 'LabImage', {
    directory: LAB_IMAGE_DIRECTORY,
    platform: config.labArchitecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
  });

  const labLogGroup = new LogGroup(stack, 'LabLogs', {
    retention: retentionDays(config.retentionDays),
    removalPolicy: config.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });

  // What ECS itself uses to start a lab: pull the image, write the log stream.
  const executionRole = new Role(stack, 'LabExecutionRole', {
    description: 'hubless lab tasks: ECS pulls the lab image and writes its logs',
    assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
  });
  labImage.repository.grantPull(executionRole);
  labLogGroup.grantWrite(executionRole);
  NagSuppressions.addResourceSuppressions(
    executionRole,
    [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'ecr:GetAuthorizationToken has no resource-level permissions (it returns a registry login, not a repository); image pulls are limited to the lab repository.',
        appliesTo: ['Resource::*'],
      },
    ],
    true,
  );

  // The key lab tokens are derived from (HMAC-SHA256(key, session id)): generated here, read
  // by the Lambdas once per cold start. Labs are given only a token's hash, never this key.
  // Its name is generated: a named secret deleted with the stack stays reserved for its
  // recovery window (7-30 days), and redeploying the stage would fail on the name.
  const labTokenKey = new Secret(stack, 'LabTokenKey', {
    description: 'hubless: key of the per-session tokens the control plane shows labs (culler probe)',
    generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    removalPolicy: RemovalPolicy.DESTROY,
  });
  NagSuppressions.addResourceSuppressions(labTokenKey, [
    {
      id: 'AwsSolutions-SMG4',
      reason:
        'Not rotated automatically: a new key changes the token of every running lab, whose hash is fixed at its start, so the culler could no longer read them until they restart. Rotate by updating the secret while no labs run.',
    },
  ]);

  // Starts leave their launches here; the launcher Lambda (Schedules.ts) takes them at
  // Fargate's pace. A launch AWS keeps refusing ends in the dead-letter queue after
  // LAUNCH_MAX_RECEIVES tries (the reconciler fails its session as stuck, with a reason).
  const launchDeadLetters = new Queue(stack, 'LaunchDeadLetters', {
    retentionPeriod: Duration.days(14),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
  NagSuppressions.addResourceSuppressions(launchDeadLetters, [
    { id: 'AwsSolutions-SQS3', reason: 'This is the dead-letter queue of the launch queue.' },
  ]);
  const launchQueue = new Queue(stack, 'LaunchQueue', {
    visibilityTimeout: LAUNCH_VISIBILITY_TIMEOUT,
    // A launch older than this is of no use: the reconciler has failed its session as stuck.
    retentionPeriod: Duration.hours(1),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: launchDeadLetters, maxReceiveCount: LAUNCH_MAX_RECEIVES },
  });

  return { cluster, labImage, labLogGroup, executionRole, labTokenKey, launchQueue, launchDeadLetters };
}
