import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import type { StackContext } from 'sst/constructs';
import { useStageConfig } from './config.ts';
import { retentionDays } from './lambda.ts';

/** The port every lab listens on (jupyter-server's default). */
export const LAB_PORT = 8888;

/**
 * The VPC over two AZs and one security group per role. All groups live here so the
 * rules between them (ALB -> lab, culler -> lab, lab -> EFS) never cross stacks in
 * both directions.
 */
export function Network({ stack, app }: StackContext) {
  const config = useStageConfig(app);

  const vpc = new Vpc(stack, 'Vpc', {
    ipAddresses: IpAddresses.cidr('10.40.0.0/16'),
    maxAzs: 2,
    natGateways: config.natGateways,
    subnetConfiguration: [
      { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
      // /20 per AZ: room for thousands of task ENIs (every Fargate task takes one address).
      { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
    ],
  });
  // Free gateway endpoints: image layers (ECR serves them from S3) and session reads and
  // writes skip the NAT gateway and its per-GB charge.
  vpc.addGatewayEndpoint('S3Endpoint', { service: GatewayVpcEndpointAwsService.S3 });
  vpc.addGatewayEndpoint('DynamoDbEndpoint', { service: GatewayVpcEndpointAwsService.DYNAMODB });
  vpc.addFlowLog('FlowLogs', {
    destination: FlowLogDestination.toCloudWatchLogs(
      new LogGroup(stack, 'FlowLogGroup', { retention: retentionDays(config.retentionDays) }),
    ),
    trafficType: FlowLogTrafficType.REJECT,
  });

  const albSecurityGroup = new SecurityGroup(stack, 'AlbSecurityGroup', {
    vpc,
    description: 'hubless ALBs: HTTPS and HTTP (redirect) from the internet',
    allowAllOutbound: false,
  });
  albSecurityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS from browsers');
  albSecurityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(80), 'HTTP, answered with a redirect to HTTPS');
  // authenticate-cognito: the ALB itself calls the Cognito token and userinfo endpoints.
  albSecurityGroup.addEgressRule(
    Peer.anyIpv4(),
    Port.tcp(443),
    'Cognito token endpoint for authenticate-cognito',
  );
  NagSuppressions.addResourceSuppressions(albSecurityGroup, [
    {
      id: 'AwsSolutions-EC23',
      reason:
        'The ALBs are the public front door: browsers anywhere reach 443 (and 80, which only redirects); every request is authenticated by Cognito at the listener.',
    },
  ]);

  const labSecurityGroup = new SecurityGroup(stack, 'LabSecurityGroup', {
    vpc,
    description: 'hubless lab tasks: the lab port only from the ALBs and the culler',
    // Labs pull images, install packages and clone repositories.
    allowAllOutbound: true,
  });

  const cullerSecurityGroup = new SecurityGroup(stack, 'CullerSecurityGroup', {
    vpc,
    description: 'hubless culler Lambda: reads lab activity, calls AWS APIs through NAT',
    allowAllOutbound: false,
  });
  cullerSecurityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'AWS APIs through the NAT gateway');

  labSecurityGroup.addIngressRule(albSecurityGroup, Port.tcp(LAB_PORT), 'lab traffic from the ALBs');
  albSecurityGroup.addEgressRule(labSecurityGroup, Port.tcp(LAB_PORT), 'forward to labs');
  labSecurityGroup.addIngressRule(cullerSecurityGroup, Port.tcp(LAB_PORT), 'activity probe from the culler');
  cullerSecurityGroup.addEgressRule(labSecurityGroup, Port.tcp(LAB_PORT), 'activity probe to labs');

  const efsSecurityGroup = new SecurityGroup(stack, 'EfsSecurityGroup', {
    vpc,
    description: 'hubless home directories: NFS only from lab tasks',
    allowAllOutbound: false,
  });
  efsSecurityGroup.addIngressRule(labSecurityGroup, Port.tcp(2049), 'NFS from lab tasks');

  return { vpc, albSecurityGroup, labSecurityGroup, cullerSecurityGroup, efsSecurityGroup };
}
