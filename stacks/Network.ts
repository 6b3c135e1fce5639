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
 * rules between them (ALB -> lab, probe -> lab, lab -> EFS) never cross stacks in
 * both directions. By default nothing in it runs at rest: no NAT gateway (labs have
 * public addresses, closed by their security group), and the only Lambda inside is the
 * activity probe, in subnets with no route out; every other Lambda runs outside the VPC.
 */
export function Network({ stack, app }: StackContext) {
  const config = useStageConfig(app);

  const publicLabs = config.labNetwork === 'public';
  // /20 per AZ wherever labs go: room for thousands of task ENIs (every Fargate task takes one address).
  const vpc = new Vpc(stack, 'Vpc', {
    ipAddresses: IpAddresses.cidr('10.40.0.0/16'),
    maxAzs: 2,
    natGateways: publicLabs ? 0 : config.natGateways,
    subnetConfiguration: publicLabs
      ? [
          { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 20 },
          // No route out of the VPC at all: the activity probe and the EFS mount targets.
          { name: 'internal', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
        ]
      : [
          { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        ],
  });
  /** Where lab tasks run; and what only the VPC reaches (the activity probe, EFS mount targets). */
  const labSubnets = publicLabs ? SubnetType.PUBLIC : SubnetType.PRIVATE_WITH_EGRESS;
  const internalSubnets = publicLabs ? SubnetType.PRIVATE_ISOLATED : SubnetType.PRIVATE_WITH_EGRESS;
  // Free gateway endpoints: image layers (ECR serves them from S3) skip the NAT gateway
  // and its per-GB charge where there is one, and stay on AWS's network where there is not.
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

  // With public addresses, this group is what keeps labs closed: nothing but the balancers
  // and the probe may open a connection to them.
  const labSecurityGroup = new SecurityGroup(stack, 'LabSecurityGroup', {
    vpc,
    description: 'hubless lab tasks: the lab port only from the ALBs and the activity probe',
    // Labs pull images, install packages and clone repositories.
    allowAllOutbound: true,
  });

  // The probe only talks to labs: no AWS API, no internet.
  const probeSecurityGroup = new SecurityGroup(stack, 'ProbeSecurityGroup', {
    vpc,
    description: 'hubless activity probe Lambda: reads lab activity, nothing else',
    allowAllOutbound: false,
  });

  labSecurityGroup.addIngressRule(albSecurityGroup, Port.tcp(LAB_PORT), 'lab traffic from the ALBs');
  albSecurityGroup.addEgressRule(labSecurityGroup, Port.tcp(LAB_PORT), 'forward to labs');
  labSecurityGroup.addIngressRule(probeSecurityGroup, Port.tcp(LAB_PORT), 'activity probe');
  probeSecurityGroup.addEgressRule(labSecurityGroup, Port.tcp(LAB_PORT), 'activity probe to labs');

  const efsSecurityGroup = new SecurityGroup(stack, 'EfsSecurityGroup', {
    vpc,
    description: 'hubless home directories: NFS only from lab tasks',
    allowAllOutbound: false,
  });
  efsSecurityGroup.addIngressRule(labSecurityGroup, Port.tcp(2049), 'NFS from lab tasks');

  return {
    vpc,
    labSubnets,
    internalSubnets,
    albSecurityGroup,
    labSecurityGroup,
    probeSecurityGroup,
    efsSecurityGroup,
  };
}
