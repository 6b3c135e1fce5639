import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Certificate, CertificateValidation, type ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import {
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ApplicationTargetGroup,
  ListenerAction,
  ListenerCondition,
  SslPolicy,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { AuthenticateCognitoAction } from 'aws-cdk-lib/aws-elasticloadbalancingv2-actions';
import { LambdaTarget } from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ARecord, HostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { LoadBalancerTarget } from 'aws-cdk-lib/aws-route53-targets';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { NagSuppressions } from 'cdk-nag';
import { type StackContext, use } from 'sst/constructs';
import {
  DEPLOYMENT_CONFIG_KEY,
  deploymentConfigAttributes,
} from '../functions/adapters/aws/deployment-config.ts';
import { ALB_AUTH, loadBalancerNamePrefix as namePrefix } from '../functions/adapters/aws/names.ts';
import { Compute } from './Compute.ts';
import { type StageConfig, useStageConfig } from './config.ts';
import {
  type ControlPlane,
  controlPlaneEnvironment,
  grantCapabilities,
  PORTAL_RULE_PRIORITY,
} from './control-plane.ts';
import { Identity } from './Identity.ts';
import { hublessFunction } from './lambda.ts';
import { Network } from './Network.ts';
import { Storage } from './Storage.ts';

/**
 * The browser front door: a pool of ALBs (one host name each, about 100 live sessions
 * each), every HTTPS listener authenticating with Cognito before anything is forwarded.
 * The portal Lambda answers whatever no session rule matches.
 *
 * The portal sits behind a catch-all listener rule rather than the listener's default
 * action: the portal needs the listener ARNs (to add session rules), and a default action
 * pointing at its target group would make listener -> portal -> listener a cycle.
 */
export function Routing({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { vpc, albSecurityGroup, labSecurityGroup, labSubnets } = use(Network);
  const { table, fileSystem, labTaskRole, sharedAccessPoint } = use(Storage);
  const { userPool, albClient, domain: loginDomain, hosts } = use(Identity);
  const { cluster, labImage, labLogGroup, executionRole, labTokenKey, launchQueue } = use(Compute);

  const certificate = importOrIssueCertificate(stack, config);
  const logBucket = accessLogBucket(stack, config);
  const loadBalancerNamePrefix = namePrefix(app.stage);

  const balancers = hosts.map((host, index) => {
    const alb = new ApplicationLoadBalancer(stack, `Alb${index}`, {
      vpc,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      internetFacing: true,
      securityGroup: albSecurityGroup,
      loadBalancerName: `${loadBalancerNamePrefix}${index}`,
      dropInvalidHeaderFields: true,
      // Labs hold websockets (kernels, terminals) open; idle ones are closed by the culler, not here.
      idleTimeout: Duration.seconds(3600),
    });
    alb.logAccessLogs(logBucket, `alb${index}`);
    alb.addListener('Http', {
      port: 80,
      protocol: ApplicationProtocol.HTTP,
      open: false,
      defaultAction: ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
    });
    const https = alb.addListener('Https', {
      port: 443,
      protocol: ApplicationProtocol.HTTPS,
      certificates: [certificate],
      sslPolicy: SslPolicy.RECOMMENDED_TLS,
      open: false,
      // Never reached (the portal rule matches /*); kept explicit so nothing is forwarded unauthenticated.
      defaultAction: ListenerAction.fixedResponse(404, {
        contentType: 'text/plain',
        messageBody: 'Not found',
      }),
    });
    return { alb, https, host };
  });

  const cp: ControlPlane = {
    config,
    stage: app.stage,
    table,
    vpc,
    labSubnetIds: vpc.selectSubnets({ subnetType: labSubnets }).subnetIds,
    labSecurityGroup,
    cluster,
    labImage,
    labLogGroup,
    executionRole,
    labTaskRole,
    fileSystem,
    ...(sharedAccessPoint ? { sharedAccessPoint } : {}),
    labTokenKey,
    launchQueue,
    userPool,
    albClient,
    loginDomain,
    listenerArns: balancers.map((b) => b.https.listenerArn),
    loadBalancerArns: balancers.map((b) => b.alb.loadBalancerArn),
    hosts,
    loadBalancerNamePrefix,
  };

  const deploymentConfig = writeDeploymentConfig(stack, cp);
  const portal = hublessFunction(stack, 'Portal', {
    handler: 'portal',
    config,
    environment: controlPlaneEnvironment(cp),
  });
  // Written before any function that reads it is updated (the other stacks come after this one).
  portal.node.addDependency(deploymentConfig);
  // Starts only queue their launches (the launcher Lambda launches): no RunTask, no homes here.
  grantCapabilities(portal, cp, [
    'sessions',
    'queue-launches',
    'observe',
    'routes',
    // The admin page manages users (the portal reads the signed-in user on every request too).
    'directory',
    'directory-admin',
    'events',
  ]);

  balancers.forEach(({ alb, https, host }, index) => {
    // A Lambda target group belongs to one load balancer, so each ALB gets its own.
    const portalTarget = new ApplicationTargetGroup(stack, `PortalTarget${index}`, {
      targets: [new LambdaTarget(portal)],
    });
    https.addAction('Portal', {
      priority: PORTAL_RULE_PRIORITY,
      conditions: [ListenerCondition.pathPatterns(['/*'])],
      action: new AuthenticateCognitoAction({
        userPool,
        userPoolClient: albClient,
        userPoolDomain: loginDomain,
        // The same cookie, scopes and timeout as every session rule (AlbRouter): one sign-in covers all.
        sessionCookieName: ALB_AUTH.sessionCookie,
        scope: ALB_AUTH.scopes.join(' '),
        sessionTimeout: Duration.seconds(ALB_AUTH.sessionTimeoutSeconds),
        allowHttpsOutbound: false, // the ALB security group already allows it (Network)
        next: ListenerAction.forward([portalTarget]),
      }),
    });
    if (config.hostedZone) {
      new ARecord(stack, `AlbRecord${index}`, {
        zone: HostedZone.fromHostedZoneAttributes(stack, `Zone${index}`, {
          hostedZoneId: config.hostedZone.zoneId,
          zoneName: config.hostedZone.zoneName,
        }),
        recordName: `${host}.`,
        target: RecordTarget.fromAlias(new LoadBalancerTarget(alb)),
      });
    }
    stack.addOutputs({
      [`AlbDnsName${index}`]: {
        value: alb.loadBalancerDnsName,
        description: `Point ${host} here (CNAME) when hubless does not manage DNS`,
      },
    });
  });

  stack.addOutputs({ Url: `https://${config.domain}/` });
  return { cp, portal, balancers };
}

/**
 * The deployment's configuration item (functions/adapters/aws/deployment-config.ts): the
 * pool's listener ARNs and the profiles, put into the session table on every deploy that
 * changes them and deleted with the stack; any size fits, unlike Lambda's 4 KB environment.
 */
function writeDeploymentConfig(stack: StackContext['stack'], cp: ControlPlane): AwsCustomResource {
  const attributes = deploymentConfigAttributes(cp.listenerArns, cp.config.profiles);
  const key = { pk: { S: DEPLOYMENT_CONFIG_KEY.pk }, sk: { S: DEPLOYMENT_CONFIG_KEY.sk } };
  const put = {
    service: 'DynamoDB',
    action: 'PutItem',
    parameters: {
      TableName: cp.table.tableName,
      Item: { ...key, pool: { S: attributes.pool }, profiles: { S: attributes.profiles } },
    },
    physicalResourceId: PhysicalResourceId.of(`${DEPLOYMENT_CONFIG_KEY.pk}/${cp.stage}`),
  };
  const resource = new AwsCustomResource(stack, 'DeploymentConfig', {
    onCreate: put,
    onUpdate: put,
    onDelete: {
      service: 'DynamoDB',
      action: 'DeleteItem',
      parameters: { TableName: cp.table.tableName, Key: key },
    },
    policy: AwsCustomResourcePolicy.fromStatements([
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [cp.table.tableArn],
      }),
    ]),
    installLatestAwsSdk: false,
  });
  NagSuppressions.addResourceSuppressionsByPath(
    stack,
    `/${stack.node.path}/AWS679f53fac002430cb0da5b7982bd2287`,
    [
      {
        id: 'AwsSolutions-IAM4',
        reason:
          "CDK's AwsCustomResource provider logs through AWSLambdaBasicExecutionRole; it only writes the deployment's configuration item.",
      },
      {
        id: 'AwsSolutions-L1',
        reason:
          "CDK's AwsCustomResource provider picks its own runtime; it runs once per deploy and never serves users.",
      },
    ],
    true,
  );
  return resource;
}

function importOrIssueCertificate(stack: StackContext['stack'], config: StageConfig): ICertificate {
  if (config.certificateArn)
    return Certificate.fromCertificateArn(stack, 'Certificate', config.certificateArn);
  const zone = config.hostedZone;
  if (!zone) throw new Error('certificateArn or hostedZone is required');
  return new Certificate(stack, 'Certificate', {
    domainName: config.domain,
    subjectAlternativeNames: config.albPoolSize > 1 ? [`*.${config.domain}`] : [],
    validation: CertificateValidation.fromDns(
      HostedZone.fromHostedZoneAttributes(stack, 'CertificateZone', {
        hostedZoneId: zone.zoneId,
        zoneName: zone.zoneName,
      }),
    ),
  });
}

function accessLogBucket(stack: StackContext['stack'], config: StageConfig): Bucket {
  const bucket = new Bucket(stack, 'AccessLogs', {
    // ALB access logs support SSE-S3 only (not SSE-KMS).
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ expiration: Duration.days(config.retentionDays) }],
    // Kept on teardown: logs outlive the stack; README.md ("Deploy to AWS", Teardown) says how to empty and delete it.
    removalPolicy: RemovalPolicy.RETAIN,
  });
  NagSuppressions.addResourceSuppressions(bucket, [
    {
      id: 'AwsSolutions-S1',
      reason:
        'This is the access-log bucket itself; logging it to another bucket would recurse without adding an audit trail.',
    },
  ]);
  return bucket;
}
