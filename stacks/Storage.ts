import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import {
  AccessPoint,
  FileSystem,
  LifecyclePolicy,
  PerformanceMode,
  ThroughputMode,
} from 'aws-cdk-lib/aws-efs';
import {
  AnyPrincipal,
  ArnPrincipal,
  Effect,
  PolicyDocument,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { type StackContext, use } from 'sst/constructs';
import { SHARED_DATA_PATH } from '../functions/adapters/aws/names.ts';
import { TABLE_KEYS } from '../functions/adapters/dynamodb/schema.ts';
import { useStageConfig } from './config.ts';
import { Network } from './Network.ts';

/**
 * The session table (exactly functions/adapters/dynamodb/schema.ts) and the EFS file
 * system holding every user's home. The lab task role is defined here, next to the file
 * system policy that names it: it is the only principal allowed to mount homes.
 */
export function Storage({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { vpc, efsSecurityGroup, internalSubnets } = use(Network);
  const removalPolicy = config.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

  const table = new Table(stack, 'Sessions', {
    partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: config.production,
    removalPolicy,
  });
  table.addGlobalSecondaryIndex({
    indexName: TABLE_KEYS.stateIndex,
    partitionKey: { name: TABLE_KEYS.stateIndexPartitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.stateIndexSortKey, type: AttributeType.STRING },
    projectionType: ProjectionType.ALL,
  });

  // No identity policy: labs get no AWS permissions unless an operator adds them. The
  // condition stops another account's ECS from assuming the role (confused deputy).
  const labTaskRole = new Role(stack, 'LabTaskRole', {
    description: 'hubless lab tasks: mounts the user home, nothing else',
    assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
  });

  const fileSystem = new FileSystem(stack, 'Homes', {
    vpc,
    vpcSubnets: { subnetType: internalSubnets },
    securityGroup: efsSecurityGroup,
    encrypted: true,
    enableAutomaticBackups: true,
    performanceMode: PerformanceMode.GENERAL_PURPOSE,
    throughputMode: ThroughputMode.ELASTIC,
    // Homes of students who left for the term move to Infrequent Access (about 1/12 of the price).
    lifecyclePolicy: LifecyclePolicy.AFTER_30_DAYS,
    removalPolicy,
    fileSystemPolicy: new PolicyDocument({
      statements: [
        new PolicyStatement({
          sid: 'DenyWithoutTls',
          effect: Effect.DENY,
          principals: [new AnyPrincipal()],
          actions: ['*'],
          conditions: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
        // IAM authorization: only the lab task role, only through a mount target and an
        // access point (which pins uid/gid 1000 and the user's own directory), never as root.
        new PolicyStatement({
          sid: 'LabsMountThroughAccessPoints',
          effect: Effect.ALLOW,
          principals: [new ArnPrincipal(labTaskRole.roleArn)],
          actions: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
          conditions: {
            Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' },
            StringLike: {
              'elasticfilesystem:AccessPointArn': `arn:${stack.partition}:elasticfilesystem:${stack.region}:${stack.account}:access-point/*`,
            },
          },
        }),
      ],
    }),
  });

  // The class's shared data: one directory of the same file system, owned by the notebook
  // user (uid 1000, gid 100) and 0755. Labs mount it read-only; only course admins' labs
  // also mount it writable (functions/adapters/aws/ecs-compute.ts).
  const sharedAccessPoint = config.sharedData
    ? new AccessPoint(stack, 'SharedData', {
        fileSystem,
        path: SHARED_DATA_PATH,
        posixUser: { uid: '1000', gid: '100' },
        createAcl: { ownerUid: '1000', ownerGid: '100', permissions: '0755' },
      })
    : undefined;

  return { table, fileSystem, labTaskRole, sharedAccessPoint };
}
