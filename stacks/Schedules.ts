import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NagSuppressions } from 'cdk-nag';
import { type StackContext, use } from 'sst/constructs';
import { Compute, LAUNCHER_TIMEOUT } from './Compute.ts';
import { useStageConfig } from './config.ts';
import { controlPlaneEnvironment, grantCapabilities } from './control-plane.ts';
import { hublessFunction } from './lambda.ts';
import { Network } from './Network.ts';
import { Routing } from './Routing.ts';

/**
 * What happens without a request: queued launches are started at Fargate's pace, ECS task state changes of this cluster (and only this
 * cluster: other clusters in the account are none of our business) drive sessions
 * forward, and a schedule runs the idle culler. The culler calls AWS APIs from outside
 * the VPC (so no NAT gateway is needed for it) and reads labs' activity through the
 * probe, the one function inside the VPC, which can reach labs and nothing else.
 */
/**
 * Launches in flight at once = batch size x concurrency. Each launch is a few calls
 * (DescribeAccessPoints, RunTask, a task definition on a user's first start, the session
 * writes), about a second in all, so 2 x 10 in flight start about 20 tasks a second:
 * Fargate's sustained launch rate (after its burst of about 100). More would only be
 * throttled and retried; fewer would leave the rate unused while a class waits.
 * 2 is the smallest maximum concurrency an SQS event source accepts.
 */
export const LAUNCHER_BATCH_SIZE = 10;
export const LAUNCHER_MAX_CONCURRENCY = 2;

export function Schedules({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { vpc, probeSecurityGroup, internalSubnets } = use(Network);
  const { cp } = use(Routing);
  const { launchQueue, launchDeadLetters } = use(Compute);
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

  // The launcher: takes queued launches at Fargate's pace (see LAUNCHER_BATCH_SIZE).
  const launcher = hublessFunction(stack, 'Launcher', {
    handler: 'launcher',
    config,
    environment,
    timeout: LAUNCHER_TIMEOUT,
  });
  grantCapabilities(launcher, cp, [
    'sessions',
    'launch',
    'observe',
    'routes',
    'homes',
    'events',
    'lab-tokens',
  ]);
  launcher.addEventSource(
    new SqsEventSource(launchQueue, {
      batchSize: LAUNCHER_BATCH_SIZE,
      maxConcurrency: LAUNCHER_MAX_CONCURRENCY,
      reportBatchItemFailures: true,
    }),
  );

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

  return { taskEvents, culler, probe, launcher, launchDeadLetters };
}
