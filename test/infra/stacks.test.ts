import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ECSClient } from '@aws-sdk/client-ecs';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { deploymentConfigDigest } from '../../functions/adapters/aws/deployment-config.ts';
import { EcsCompute } from '../../functions/adapters/aws/ecs-compute.ts';
import { ALB_AUTH, loadBalancerNamePrefix } from '../../functions/adapters/aws/names.ts';
import { TABLE_KEYS } from '../../functions/adapters/dynamodb/schema.ts';
import { API_SCOPES } from '../../functions/core/api/scopes.ts';
import {
  LAB_IMAGE_DIRECTORY,
  LAUNCH_MAX_RECEIVES,
  LAUNCH_VISIBILITY_TIMEOUT,
  LAUNCHER_TIMEOUT,
} from '../../stacks/Compute.ts';
import { parseStageConfig, TEST_STAGE_DEFAULTS } from '../../stacks/config.ts';
import { LAUNCHER_BATCH_SIZE, LAUNCHER_MAX_CONCURRENCY } from '../../stacks/Schedules.ts';
import { type StackName, type Synthesized, synthesize, TEST_ACCOUNT, TEST_REGION } from './synth.ts';

type Resources = Record<
  string,
  { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; Metadata?: Record<string, any> }
>;

let synth: Synthesized;
let t: Record<StackName, Template>;

beforeAll(async () => {
  synth = await synthesize({ nag: true });
  t = synth.templates;
  console.info(`[infra] synthesized 8 stacks (cdk-nag on) in ${Math.round(synth.millis)} ms`);
});

function resources(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}
function only<T>(record: Record<string, T>): T {
  const values = Object.values(record);
  expect(values).toHaveLength(1);
  return values[0] as T;
}
/** The logical id of the one resource of `type` in `template`. */
function idOf(template: Template, type: string, props: Record<string, unknown> = {}): string {
  const found = Object.keys(template.findResources(type, { Properties: props }));
  expect(found).toHaveLength(1);
  return found[0] as string;
}
/** The logical id of the one resource of `type` whose id starts with `prefix`. */
function idStarting(template: Template, type: string, prefix: string): string {
  const found = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0] as string;
}
/** Hubless Lambdas carry HUBLESS_STAGE; SST's own stack helpers do not. */
function hublessFunctions(): Array<[StackName, string, Record<string, any>]> {
  return (Object.entries(t) as Array<[StackName, Template]>).flatMap(([stack, template]) =>
    Object.entries(resources(template, 'AWS::Lambda::Function'))
      .filter(([, r]) => r.Properties.Environment?.Variables?.HUBLESS_STAGE === 'test')
      .map(([id, r]) => [stack, id, r.Properties] as [StackName, string, Record<string, any>]),
  );
}

describe('Network', () => {
  it('spreads the VPC over two AZs and runs no NAT gateway by default: labs have public addresses', () => {
    const subnets = Object.values(resources(t.Network, 'AWS::EC2::Subnet'));
    const azs = new Set(subnets.map((s) => JSON.stringify(s.Properties.AvailabilityZone)));
    expect(azs.size).toBe(2);
    t.Network.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.Network.resourceCountIs('AWS::EC2::EIP', 0);
    // Public subnets (routed to the internet gateway) for balancers and labs; internal ones with no route out.
    const routes = Object.values(resources(t.Network, 'AWS::EC2::Route'));
    expect(routes.every((r) => r.Properties.GatewayId && !r.Properties.NatGatewayId)).toBe(true);
    const env = hublessFunctions().find(([, id]) => id.startsWith('Portal'))?.[2].Environment.Variables;
    expect(env.HUBLESS_LAB_PUBLIC_IP).toBe('ENABLED');
    expect(JSON.stringify(env.HUBLESS_SUBNETS)).toMatch(/publicSubnet1.*publicSubnet2/);
  });

  it('sends S3 (image layers) and DynamoDB traffic through free gateway endpoints', () => {
    const services = Object.values(resources(t.Network, 'AWS::EC2::VPCEndpoint')).map((e) =>
      JSON.stringify(e.Properties.ServiceName),
    );
    expect(services.join()).toMatch(/\.s3/);
    expect(services.join()).toMatch(/\.dynamodb/);
    t.Network.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' }, 2);
  });

  it('opens the ALBs to the internet on 443 and 80 only', () => {
    const alb = resources(t.Network, 'AWS::EC2::SecurityGroup')[
      idStarting(t.Network, 'AWS::EC2::SecurityGroup', 'AlbSecurityGroup')
    ];
    const ingress = alb?.Properties.SecurityGroupIngress as Array<Record<string, unknown>>;
    expect(ingress.map((r) => [r.CidrIp, r.FromPort, r.ToPort]).sort()).toEqual([
      ['0.0.0.0/0', 443, 443],
      ['0.0.0.0/0', 80, 80],
    ]);
  });

  it('admits the lab port only from the ALB and probe security groups', () => {
    const lab = idStarting(t.Network, 'AWS::EC2::SecurityGroup', 'LabSecurityGroup');
    const albSg = idStarting(t.Network, 'AWS::EC2::SecurityGroup', 'AlbSecurityGroup');
    const probe = idStarting(t.Network, 'AWS::EC2::SecurityGroup', 'ProbeSecurityGroup');
    expect(
      resources(t.Network, 'AWS::EC2::SecurityGroup')[lab]?.Properties.SecurityGroupIngress,
    ).toBeUndefined();
    const rules = Object.values(resources(t.Network, 'AWS::EC2::SecurityGroupIngress')).filter(
      (r) => r.Properties.GroupId?.['Fn::GetAtt']?.[0] === lab,
    );
    expect(
      rules
        .map((r) => [
          r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0],
          r.Properties.FromPort,
          r.Properties.ToPort,
        ])
        .sort(),
    ).toEqual(
      [
        [albSg, 8888, 8888],
        [probe, 8888, 8888],
      ].sort(),
    );
  });

  it('admits NFS to the file system only from labs', () => {
    const efs = idStarting(t.Network, 'AWS::EC2::SecurityGroup', 'EfsSecurityGroup');
    const lab = idStarting(t.Network, 'AWS::EC2::SecurityGroup', 'LabSecurityGroup');
    expect(
      resources(t.Network, 'AWS::EC2::SecurityGroup')[efs]?.Properties.SecurityGroupIngress,
    ).toBeUndefined();
    const rules = Object.values(resources(t.Network, 'AWS::EC2::SecurityGroupIngress')).filter(
      (r) => r.Properties.GroupId?.['Fn::GetAtt']?.[0] === efs,
    );
    expect(
      rules.map((r) => [r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0], r.Properties.FromPort]),
    ).toEqual([[lab, 2049]]);
  });
});

describe('Storage', () => {
  it('creates the session table exactly as the DynamoDB schema describes', () => {
    t.Storage.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
        { AttributeName: TABLE_KEYS.stateIndexPartitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_KEYS.stateIndexSortKey, AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE_KEYS.stateIndex,
          KeySchema: [
            { AttributeName: TABLE_KEYS.stateIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_KEYS.stateIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('lets a non-production stage be torn down (no deletion protection, Delete policy)', () => {
    const table = only(resources(t.Storage, 'AWS::DynamoDB::Table'));
    expect(table.Properties.DeletionProtectionEnabled).toBeFalsy();
    expect(table.DeletionPolicy).toBe('Delete');
  });

  it('encrypts the home file system, backs it up and mounts it in the internal subnets, which have no route out', () => {
    t.Storage.hasResourceProperties('AWS::EFS::FileSystem', {
      Encrypted: true,
      BackupPolicy: { Status: 'ENABLED' },
    });
    const targets = Object.values(resources(t.Storage, 'AWS::EFS::MountTarget'));
    expect(targets).toHaveLength(2);
    for (const target of targets)
      expect(JSON.stringify(target.Properties.SubnetId)).toMatch(/internalSubnet/);
  });

  it('requires TLS and lets only the lab task role mount, through an access point', () => {
    const fs = only(resources(t.Storage, 'AWS::EFS::FileSystem'));
    const statements = fs.Properties.FileSystemPolicy.Statement as Array<Record<string, any>>;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: '*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    const role = idOf(t.Storage, 'AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('mounts the user home'),
    });
    expect(allows[0]).toMatchObject({
      Principal: { AWS: { 'Fn::GetAtt': [role, 'Arn'] } },
      Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
      Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
    });
  });

  it('keeps the shared data in /shared of the same file system, owned by the notebook user, 0755', () => {
    const fs = idOf(t.Storage, 'AWS::EFS::FileSystem');
    const shared = only(resources(t.Storage, 'AWS::EFS::AccessPoint'));
    expect(shared.Properties).toMatchObject({
      FileSystemId: { Ref: fs },
      RootDirectory: {
        Path: '/shared',
        CreationInfo: { OwnerUid: '1000', OwnerGid: '100', Permissions: '0755' },
      },
      PosixUser: { Uid: '1000', Gid: '100' },
    });
    // Every control-plane Lambda that starts labs knows it (the task definitions mount it).
    const launchers = hublessFunctions().filter(
      ([, , fn]) => fn.Environment.Variables.HUBLESS_FILE_SYSTEM_ID,
    );
    expect(launchers.length).toBeGreaterThan(0);
    for (const [, , fn] of launchers)
      expect(fn.Environment.Variables.HUBLESS_SHARED_ACCESS_POINT_ID).toBeDefined();
  });

  it('gives the lab task role no AWS permissions', () => {
    const role = idOf(t.Storage, 'AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('mounts the user home'),
    });
    const roleResource = resources(t.Storage, 'AWS::IAM::Role')[role];
    expect(roleResource?.Properties.Policies).toBeUndefined();
    expect(roleResource?.Properties.ManagedPolicyArns).toBeUndefined();
    for (const template of Object.values(t)) {
      for (const policy of Object.values(resources(template, 'AWS::IAM::Policy'))) {
        expect(JSON.stringify(policy.Properties.Roles)).not.toContain(role);
      }
    }
  });
});

describe('Identity', () => {
  it('has no self sign-up, a strong password policy and an admin group', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true }) },
    });
    t.Identity.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'admin' });
    t.Identity.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
  });

  it('has no sign-up trigger and no identity providers without `federation`', () => {
    const [pool] = Object.values(t.Identity.findResources('AWS::Cognito::UserPool'));
    expect(pool?.Properties.LambdaConfig).toBeUndefined();
    t.Identity.resourceCountIs('AWS::Cognito::UserPoolIdentityProvider', 0);
  });

  it('gives the ALBs a confidential code-grant client with a callback on every pool host', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: 'hubless-alb',
      GenerateSecret: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: Match.arrayEquals(['openid', 'email', 'profile']),
      CallbackURLs: [
        `https://${TEST_STAGE_DEFAULTS.domain}/oauth2/idpresponse`,
        `https://pool1.${TEST_STAGE_DEFAULTS.domain}/oauth2/idpresponse`,
      ],
    });
  });

  it('declares the hubless resource server with every API scope', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'hubless',
      Scopes: API_SCOPES.map((scope) => ({ ScopeName: scope, ScopeDescription: Match.anyValue() })),
    });
  });

  it('makes one client-credentials client per LMS with exactly its scopes', () => {
    const lms = TEST_STAGE_DEFAULTS.lmsClients[0];
    t.Identity.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: `lms-${lms.name}`,
      GenerateSecret: true,
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthScopes: lms.scopes.map((s) => ({ 'Fn::Join': ['', [{ Ref: Match.anyValue() }, `/${s}`]] })),
    });
    // The ALB's sign-in client, the admin client and one per LMS.
    t.Identity.resourceCountIs('AWS::Cognito::UserPoolClient', 2 + TEST_STAGE_DEFAULTS.lmsClients.length);
  });
});

describe('Compute', () => {
  it('runs labs on Fargate and Fargate Spot with container insights', () => {
    t.Compute.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: Match.arrayEquals(['FARGATE', 'FARGATE_SPOT']),
    });
    t.Compute.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('builds the lab image from containers/lab as a Docker image asset', () => {
    const assembly = synth.app.synth();
    const manifest = assembly.artifacts.find(
      (a) =>
        a instanceof AssetManifestArtifact &&
        a.id === `${assembly.getStackByName('test-hubless-Compute').id}.assets`,
    );
    const images = Object.values((manifest as AssetManifestArtifact).contents.dockerImages ?? {});
    expect(images).toHaveLength(1);
    expect(images[0]?.source).toMatchObject({ platform: 'linux/amd64' });
    const staged = path.join(assembly.directory, images[0]?.source.directory ?? '');
    // The staged copy of containers/lab (minus .dockerignore'd files); docker builds it at publish time, not here.
    expect(readdirSync(staged)).toContain('Dockerfile');
    expect(readdirSync(LAB_IMAGE_DIRECTORY)).toContain('Dockerfile');
  });

  it('hands the copied lab package to the notebook user before pip builds it (no COPY --chown)', () => {
    // The legacy builder's COPY --chown leaves the directories it creates owned by root.
    const lines = readFileSync(path.join(LAB_IMAGE_DIRECTORY, 'Dockerfile'), 'utf8').split('\n');
    expect(lines.filter((line) => /^COPY\s+--chown/.test(line))).toEqual([]);
    const chown = lines.findIndex((line) => /^RUN chown -R 1000:100 \/tmp\/hubless-lab/.test(line));
    const install = lines.findIndex((line) => /pip install .*\/tmp\/hubless-lab/.test(line));
    expect(chown).toBeGreaterThan(-1);
    expect(install).toBeGreaterThan(chown);
    expect(lines.slice(chown, install).some((line) => /^USER 1000$/.test(line))).toBe(true);
  });

  it('lets the execution role pull images and write the lab log group, which has a retention', () => {
    t.Compute.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const policy = JSON.stringify(only(resources(t.Compute, 'AWS::IAM::Policy')).Properties.PolicyDocument);
    expect(policy).toContain('ecr:BatchGetImage');
    expect(policy).toContain('logs:PutLogEvents');
  });

  it('queues launches on an encrypted, TLS-only queue with a dead-letter queue', () => {
    const dlq = idStarting(t.Compute, 'AWS::SQS::Queue', 'LaunchDeadLetters');
    t.Compute.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: LAUNCH_VISIBILITY_TIMEOUT.toSeconds(),
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
        maxReceiveCount: LAUNCH_MAX_RECEIVES,
      },
    });
    // The visibility timeout outlasts a launcher invocation, so a batch is not delivered twice while it runs.
    expect(LAUNCH_VISIBILITY_TIMEOUT.toSeconds()).toBeGreaterThan(LAUNCHER_TIMEOUT.toSeconds());
    for (const policy of Object.values(resources(t.Compute, 'AWS::SQS::QueuePolicy')))
      expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('aws:SecureTransport');
  });
});

describe('Schedules', () => {
  it('runs the launcher from the launch queue at Fargate’s pace, handing back only the launches that failed', () => {
    t.Schedules.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: LAUNCHER_BATCH_SIZE,
      ScalingConfig: { MaximumConcurrency: LAUNCHER_MAX_CONCURRENCY },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    // 2 is the least an SQS event source takes; in flight ~ Fargate's 20 launches a second.
    expect(LAUNCHER_MAX_CONCURRENCY).toBeGreaterThanOrEqual(2);
    expect(LAUNCHER_BATCH_SIZE * LAUNCHER_MAX_CONCURRENCY).toBeLessThanOrEqual(20);
  });

  it('leaves RunTask to the launcher: the portal and API only queue launches', () => {
    const policies = (Object.values(t) as Template[]).flatMap((template) =>
      Object.values(resources(template, 'AWS::IAM::Policy')),
    );
    const of = (fnPrefix: string) =>
      policies
        .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(fnPrefix))
        .map((policy) => JSON.stringify(policy.Properties.PolicyDocument))
        .join(' ');
    for (const fn of ['PortalServiceRole', 'ApiHandlerServiceRole']) {
      expect(of(fn), fn).toContain('sqs:SendMessage');
      expect(of(fn), fn).not.toContain('ecs:RunTask');
    }
    expect(of('LauncherServiceRole')).toContain('ecs:RunTask');
    expect(of('LauncherServiceRole')).toContain('sqs:ReceiveMessage');
  });
});

describe('Routing', () => {
  it('builds the configured pool of internet-facing ALBs that drop invalid headers and log access', () => {
    t.Routing.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', TEST_STAGE_DEFAULTS.albPoolSize);
    for (const alb of Object.values(resources(t.Routing, 'AWS::ElasticLoadBalancingV2::LoadBalancer'))) {
      expect(alb.Properties.Scheme).toBe('internet-facing');
      expect(alb.Properties.LoadBalancerAttributes).toEqual(
        expect.arrayContaining([
          { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
          { Key: 'access_logs.s3.enabled', Value: 'true' },
        ]),
      );
    }
  });

  it('serves HTTPS with the certificate and redirects HTTP to HTTPS', () => {
    t.Routing.resourcePropertiesCountIs(
      'AWS::ElasticLoadBalancingV2::Listener',
      {
        Port: 443,
        Protocol: 'HTTPS',
        Certificates: [{ CertificateArn: TEST_STAGE_DEFAULTS.certificateArn }],
      },
      2,
    );
    t.Routing.resourcePropertiesCountIs(
      'AWS::ElasticLoadBalancingV2::Listener',
      {
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [
          {
            Type: 'redirect',
            RedirectConfig: Match.objectLike({ Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' }),
          },
        ],
      },
      2,
    );
  });

  it('authenticates with Cognito before anything reaches the portal Lambda', () => {
    const rules = Object.values(resources(t.Routing, 'AWS::ElasticLoadBalancingV2::ListenerRule'));
    expect(rules).toHaveLength(2);
    for (const rule of rules) {
      expect(rule.Properties.Priority).toBe(50_000);
      expect(rule.Properties.Conditions).toEqual([
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } },
      ]);
      const [auth, forward] = rule.Properties.Actions as Array<Record<string, any>>;
      expect(auth).toMatchObject({ Type: 'authenticate-cognito', Order: 1 });
      // What every session rule the AlbRouter creates uses too (one sign-in, one sign-out).
      expect(auth?.AuthenticateCognitoConfig).toMatchObject({
        Scope: 'openid email profile',
        SessionCookieName: ALB_AUTH.sessionCookie,
        SessionTimeout: ALB_AUTH.sessionTimeoutSeconds,
      });
      expect(forward).toMatchObject({ Type: 'forward', Order: 2 });
    }
    t.Routing.resourcePropertiesCountIs(
      'AWS::ElasticLoadBalancingV2::TargetGroup',
      { TargetType: 'lambda' },
      2,
    );
    for (const listener of Object.values(resources(t.Routing, 'AWS::ElasticLoadBalancingV2::Listener'))) {
      for (const action of listener.Properties.DefaultActions) expect(action.Type).not.toBe('forward');
    }
  });

  it('keeps access logs in an encrypted, SSL-only, private bucket', () => {
    t.Routing.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    t.Routing.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('Api', () => {
  it('guards /api/v1 with the Cognito JWT authorizer', () => {
    const authorizer = idOf(t.Api, 'AWS::ApiGatewayV2::Authorizer', { AuthorizerType: 'JWT' });
    t.Api.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'ANY /api/v1/{proxy+}',
      AuthorizationType: 'JWT',
      AuthorizerId: { Ref: authorizer },
    });
  });

  it('admits tokens of the LMS clients and the admin client, never of the ALB’s sign-in client', () => {
    const authorizer = only(resources(t.Api, 'AWS::ApiGatewayV2::Authorizer'));
    const audience = JSON.stringify(authorizer.Properties.JwtConfiguration.Audience);
    expect(audience).toMatch(/Lmsmoodle/);
    expect(audience).toMatch(/AdminClient/);
    expect(audience).not.toMatch(/AlbClient/);
    t.Identity.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: 'hubless-admin',
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
    });
  });

  it('lets JupyterHub "token" clients and the OpenAPI document through to the handler, which checks them', () => {
    for (const key of ['ANY /hub/api/{proxy+}', 'GET /api/v1/openapi.json']) {
      t.Api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: key, AuthorizationType: 'NONE' });
    }
    t.Api.resourceCountIs('AWS::ApiGatewayV2::Route', 3);
  });

  it('throttles and logs every request', () => {
    t.Api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
    });
  });
});

describe('Schedules', () => {
  it('sends only this cluster’s ECS task state changes to the task-events Lambda', () => {
    const rule = only(
      t.Schedules.findResources('AWS::Events::Rule', {
        Properties: { EventPattern: Match.anyValue() },
      }) as Resources,
    );
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.ecs'],
      'detail-type': ['ECS Task State Change'],
      detail: {
        clusterArn: [{ 'Fn::ImportValue': expect.stringMatching(/^test-hubless-Compute:.*Labs.*Arn/) }],
      },
    });
  });

  it('runs the culler every 5 minutes by default', () => {
    t.Schedules.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  it('keeps every control-plane Lambda out of the VPC: they call only AWS APIs', () => {
    const outside = hublessFunctions().filter(([, id]) => !id.startsWith('LabProbe'));
    expect(outside).toHaveLength(5);
    for (const [, id, props] of outside) expect({ id, vpc: props.VpcConfig }).toEqual({ id, vpc: undefined });
  });

  it('reads lab activity through the probe, the one Lambda in the VPC, in subnets with no route out', () => {
    const [probeId, probe] = Object.entries(resources(t.Schedules, 'AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('LabProbe'),
    ) ?? ['', undefined];
    expect(probe).toBeDefined();
    expect(JSON.stringify(probe?.Properties.VpcConfig.SubnetIds)).toMatch(/internalSubnet1.*internalSubnet2/);
    expect(JSON.stringify(probe?.Properties.VpcConfig.SecurityGroupIds)).toMatch(/ProbeSecurityGroup/);
    const own = Object.keys(probe?.Properties.Environment.Variables).filter((k) => k.startsWith('HUBLESS_'));
    expect(own).toEqual(['HUBLESS_STAGE']);
    const culler = hublessFunctions().find(([, id]) => id.startsWith('Culler'));
    expect(culler?.[2].Environment.Variables.HUBLESS_PROBE_FUNCTION).toEqual({ Ref: probeId });
    // The probe's own role may write its logs and traces and manage its ENIs, nothing else.
    const probeRole = probe?.Properties.Role['Fn::GetAtt'][0];
    const probeActions = Object.values(resources(t.Schedules, 'AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(probeRole))
      .flatMap((p) =>
        (p.Properties.PolicyDocument.Statement as Array<{ Action: string[] }>).flatMap((s) => s.Action),
      );
    expect(probeActions.sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    const invoke = Object.values(resources(t.Schedules, 'AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, any>>)
      .filter((s) => JSON.stringify(s.Action).includes('lambda:InvokeFunction'));
    expect(JSON.stringify(invoke)).toContain(probeId);
  });
});

describe('every hubless Lambda', () => {
  it('exists for portal, api, the launcher, task-events, culler and the culler’s lab probe', () => {
    expect(
      hublessFunctions()
        .map(([, id]) => id.replace(/[A-F0-9]{8}$/, ''))
        .sort(),
    ).toEqual(['ApiHandler', 'Culler', 'LabProbe', 'Launcher', 'Portal', 'TaskEvents']);
  });

  it('runs Node 24 on arm64 from a bundled asset', () => {
    for (const [, , props] of hublessFunctions()) {
      expect(props.Runtime).toBe('nodejs24.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Code.S3Key).toMatch(/\.zip$/);
    }
  });

  it('gets the ids the handlers need as environment variables', () => {
    for (const [, , props] of hublessFunctions().filter(([, id]) => !id.startsWith('LabProbe'))) {
      expect(Object.keys(props.Environment.Variables)).toEqual(
        expect.arrayContaining([
          'HUBLESS_TABLE_NAME',
          'HUBLESS_CLUSTER_ARN',
          'HUBLESS_SUBNETS',
          'HUBLESS_LAB_SECURITY_GROUPS',
          'HUBLESS_EXECUTION_ROLE_ARN',
          'HUBLESS_TASK_ROLE_ARN',
          'HUBLESS_FILE_SYSTEM_ID',
          'HUBLESS_LOG_GROUP',
          'HUBLESS_VPC_ID',
          'HUBLESS_USER_POOL_ID',
          'HUBLESS_USER_POOL_ARN',
          'HUBLESS_USER_POOL_CLIENT_ID',
          'HUBLESS_USER_POOL_DOMAIN',
          'HUBLESS_PUBLIC_URL',
        ]),
      );
      // What grows with the stage is in the configuration item, not in the 4 KB environment.
      expect(Object.keys(props.Environment.Variables)).not.toContain('HUBLESS_ALB_POOL');
      expect(Object.keys(props.Environment.Variables)).not.toContain('HUBLESS_PROFILES');
      // ...whose digest changes every function when the item changes (no warm instance keeps the old pool).
      expect(props.Environment.Variables.HUBLESS_CONFIG_DIGEST).toBe(
        deploymentConfigDigest(
          { size: TEST_STAGE_DEFAULTS.albPoolSize, namePrefix: loadBalancerNamePrefix('test') },
          parseStageConfig(TEST_STAGE_DEFAULTS, 'test').profiles,
        ),
      );
      // The stage's settings core reads, with their defaults when the stage sets none.
      expect(props.Environment.Variables).toMatchObject({
        HUBLESS_IDLE_TIMEOUT_SECONDS: '3600',
        HUBLESS_NAMED_SERVER_LIMIT: '3',
      });
    }
  });

  it('writes the pool and the profiles into the session table on deploy, before the portal is updated', () => {
    const entries = Object.entries(resources(t.Routing, 'Custom::AWS')) as Array<[string, any]>;
    expect(entries.map(([id]) => id)).toEqual([expect.stringMatching(/^DeploymentConfig/)]);
    const resource = entries[0]?.[1];
    const create = JSON.stringify(resource.Properties.Create);
    expect(create).toContain('PutItem');
    expect(create).toContain('CONFIG#deployment');
    expect(create).toContain('pool');
    expect(create).toContain('profiles');
    expect(JSON.stringify(resource.Properties.Delete)).toContain('DeleteItem');
    const [portal] = Object.values(resources(t.Routing, 'AWS::Lambda::Function')).filter((fn: any) =>
      String(fn.Properties?.Handler ?? '').includes('portal'),
    ) as any[];
    expect(portal?.DependsOn ?? []).toEqual(
      expect.arrayContaining([expect.stringMatching(/^DeploymentConfig/)]),
    );
    // CDK's provider function runs the call: it may put and delete on the table only, and
    // cdk-nag's reasons for its managed policy and runtime reach it (its id is CDK's constant).
    const provider = Object.entries(resources(t.Routing, 'AWS::Lambda::Function')).filter(([id]) =>
      id.startsWith('AWS679f53fac002430cb0da5b7982bd2287'),
    ) as Array<[string, any]>;
    expect(provider).toHaveLength(1);
    const suppressed = (provider[0]?.[1].Metadata?.cdk_nag?.rules_to_suppress ?? []).map((r: any) => r.id);
    expect(suppressed).toEqual(expect.arrayContaining(['AwsSolutions-L1', 'AwsSolutions-IAM4']));
    const providerPolicies = Object.values(resources(t.Routing, 'AWS::IAM::Policy')).filter((policy: any) =>
      JSON.stringify(policy.Properties.Roles).includes('AWS679f53fac002430cb0da5b7982bd2287'),
    ) as any[];
    expect(
      providerPolicies.flatMap((policy) =>
        policy.Properties.PolicyDocument.Statement.flatMap((st: any) => st.Action),
      ),
    ).toEqual(['dynamodb:PutItem', 'dynamodb:DeleteItem']);
  });

  it('is granted no "*" action and no iam:PassRole on "*"', () => {
    const statements = (Object.values(t) as Template[]).flatMap((template) =>
      Object.values(resources(template, 'AWS::IAM::Policy')).flatMap(
        (p) => p.Properties.PolicyDocument.Statement as Array<Record<string, any>>,
      ),
    );
    expect(statements.length).toBeGreaterThan(10);
    for (const statement of statements.filter((s) => s.Effect === 'Allow')) {
      const actions = [statement.Action].flat() as string[];
      const resourcesOf = [statement.Resource].flat();
      for (const action of actions)
        expect(action, JSON.stringify(statement)).not.toMatch(/^\*$|^[a-z0-9-]+:\*$/);
      if (actions.includes('iam:PassRole')) {
        expect(resourcesOf).not.toContain('*');
        expect(statement.Condition).toEqual({
          StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
        });
      }
    }
  });
});

describe('names the stacks and the adapters share', () => {
  /** Every Allow statement granting `action`, with its resources as plain ARN patterns. */
  function resourcesFor(action: string): string[] {
    return (Object.values(t) as Template[])
      .flatMap((template) =>
        Object.values(resources(template, 'AWS::IAM::Policy')).flatMap(
          (p) =>
            p.Properties.PolicyDocument.Statement as Array<{
              Effect: string;
              Action: string | string[];
              Resource: unknown;
            }>,
        ),
      )
      .filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action))
      .flatMap((s) => [s.Resource].flat().map(resolvePattern));
  }
  function allows(patterns: string[], arn: string): boolean {
    return patterns.some((pattern) =>
      new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`).test(arn),
    );
  }

  it('lets the Lambdas run and tag exactly the task definitions EcsCompute registers, and no other stage’s', () => {
    const compute = new EcsCompute({ ecs: new ECSClient({ region: TEST_REGION }), stage: 'test' } as never);
    const arnOf = (family: string) =>
      `arn:aws:ecs:${TEST_REGION}:${TEST_ACCOUNT}:task-definition/${family}:3`;
    const ours = arnOf(compute.familyFor('alice'));
    const otherStage = arnOf(
      new EcsCompute({ ecs: new ECSClient({ region: TEST_REGION }), stage: 'prod' } as never).familyFor(
        'alice',
      ),
    );
    for (const action of ['ecs:RunTask', 'ecs:TagResource']) {
      expect(allows(resourcesFor(action), ours), `${action} on ${ours}`).toBe(true);
      expect(allows(resourcesFor(action), otherStage), `${action} on ${otherStage}`).toBe(false);
    }
  });
});

/** A CloudFormation resource value as an ARN pattern: pseudo parameters filled in, other references as "?". */
function resolvePattern(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(resolvePattern).join(join[0]);
  const ref = (value as { Ref?: string }).Ref;
  if (ref === 'AWS::Partition') return 'aws';
  if (ref === 'AWS::Region') return TEST_REGION;
  if (ref === 'AWS::AccountId') return TEST_ACCOUNT;
  return '?';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

describe('cdk-nag AwsSolutions', () => {
  it('finds no unsuppressed error in any stack', () => {
    expect(Object.values(synth.errors).flat()).toEqual([]);
  });

  it('accepts only suppressions that name a rule and give a real reason', () => {
    const suppressions = (Object.values(t) as Template[]).flatMap((template) =>
      Object.values(template.toJSON().Resources as Resources).flatMap(
        (r) => (r.Metadata?.cdk_nag?.rules_to_suppress ?? []) as Array<{ id: string; reason: string }>,
      ),
    );
    expect(suppressions.length).toBeGreaterThan(0);
    for (const s of suppressions) {
      expect(s.id).toMatch(/^AwsSolutions-[A-Z]+\d+$/);
      expect(s.reason.length, s.id).toBeGreaterThan(40);
    }
  });
});

describe('labNetwork "private-nat" (for sites that forbid public addresses on workloads)', () => {
  let nat: Synthesized;
  beforeAll(async () => {
    nat = await synthesize({
      nag: true,
      config: { ...TEST_STAGE_DEFAULTS, labNetwork: 'private-nat', natGateways: 2 },
    });
  });

  it('puts labs in private subnets behind the configured NAT gateways, without public addresses', () => {
    nat.templates.Network.resourceCountIs('AWS::EC2::NatGateway', 2);
    const fns = Object.values(resources(nat.templates.Routing, 'AWS::Lambda::Function')).filter(
      (r) => r.Properties.Environment?.Variables?.HUBLESS_TABLE_NAME,
    );
    expect(fns.length).toBeGreaterThan(0);
    for (const fn of fns) {
      expect(fn.Properties.Environment.Variables.HUBLESS_LAB_PUBLIC_IP).toBe('DISABLED');
      expect(JSON.stringify(fn.Properties.Environment.Variables.HUBLESS_SUBNETS)).toMatch(
        /privateSubnet1.*privateSubnet2/,
      );
      expect(fn.Properties.VpcConfig).toBeUndefined();
    }
  });

  it('keeps the probe the only Lambda in the VPC, and cdk-nag clean', () => {
    const probe = Object.entries(resources(nat.templates.Schedules, 'AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('LabProbe'),
    )?.[1];
    expect(JSON.stringify(probe?.Properties.VpcConfig.SubnetIds)).toMatch(/privateSubnet1.*privateSubnet2/);
    expect(Object.values(nat.errors).flat()).toEqual([]);
  });
});
