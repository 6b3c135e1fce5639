import { RemovalPolicy } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Cluster, ContainerInsights } from 'aws-cdk-lib/aws-ecs';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { type StackContext, use } from 'sst/constructs';
import { clusterName } from '../functions/adapters/aws/names.ts';
import { useStageConfig } from './config.ts';
import { retentionDays } from './lambda.ts';
import { Network } from './Network.ts';

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

  return { cluster, labImage, labLogGroup, executionRole };
}
