import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { NagSuppressions } from 'cdk-nag';
import { type StackContext, use } from 'sst/constructs';
import { useStageConfig } from './config.ts';
import { controlPlaneEnvironment, grantCapabilities } from './control-plane.ts';
import { hublessFunction } from './lambda.ts';
import { Network } from './Network.ts';
import { Routing } from './Routing.ts';

/**
 * What happens without a request: ECS task state changes of this cluster (and only this
 * cluster: other clusters in the account are none of our business) drive sessions
 * forward, and a schedule runs the idle culler. The culler calls AWS APIs from outside
 * the VPC (so no NAT gateway is needed for it) and reads labs' activity through the
 * probe, the one function inside the VPC, which can reach labs and nothing else.
 */
export function Schedules({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { vpc, probeSecurityGroup, internalSubnets } = use(Network);
  const { cp } = use(Routing);
  const environment = controlPlaneEnvironment(cp);

  const taskEvents = hublessFunction(stack, 'TaskEvents', { handler: 'task-events', config, environment });
  grantCapabilities(taskEvents, cp, ['sessions', 'observe', 'routes', 'events']);
  new Rule(stack, 'TaskStateChanges', {
    description: 'ECS task state changes of the hubless cluster',
    eventPattern: {
      source: ['aws.ecs'],
      detailType: ['ECS Task State Change'],
      detail: { clusterArn: [cp.cluster.clusterArn] },
    },
    targets: [new LambdaFunction(taskEvents, { retryAttempts: 4, maxEventAge: Duration.hours(1) })],
  });

  // No settings and no permissions: the culler gives it each lab's address and token.
  const probe = hublessFunction(stack, 'LabProbe', {
    handler: 'lab-probe',
    config,
    environment: { HUBLESS_STAGE: app.stage },
    memorySize: 256,
    timeout: Duration.seconds(15),
    vpc: { vpc, subnetType: internalSubnets, securityGroup: probeSecurityGroup },
  });

  NagSuppressions.addResourceSuppressions(
    probe,
    [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'The probe is granted nothing but the X-Ray trace writes every hubless Lambda has (SST turns on active tracing); xray:PutTraceSegments and PutTelemetryRecords support no resource-level permissions.',
        appliesTo: ['Resource::*'],
      },
    ],
    true,
  );

  const culler = hublessFunction(stack, 'Culler', {
    handler: 'culler',
    config,
    environment: { ...environment, HUBLESS_PROBE_FUNCTION: probe.functionName },
    timeout: Duration.minutes(Math.min(config.cullEveryMinutes, 5)),
  });
  grantCapabilities(culler, cp, ['sessions', 'observe', 'reconcile', 'routes', 'events', 'lab-tokens']);
  probe.grantInvoke(culler);
  new Rule(stack, 'CullSchedule', {
    description: 'hubless idle culler',
    schedule: Schedule.rate(Duration.minutes(config.cullEveryMinutes)),
    targets: [new LambdaFunction(culler, { retryAttempts: 0 })],
  });

  return { taskEvents, culler, probe };
}
