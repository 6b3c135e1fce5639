import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type StackContext, use } from 'sst/constructs';
import { useStageConfig } from './config.ts';
import { controlPlaneEnvironment, grantCapabilities } from './control-plane.ts';
import { hublessFunction } from './lambda.ts';
import { Network } from './Network.ts';
import { Routing } from './Routing.ts';

/**
 * What happens without a request: ECS task state changes of this cluster (and only this
 * cluster: other clusters in the account are none of our business) drive sessions
 * forward, and a schedule runs the idle culler, which sits in the VPC to ask labs for
 * their activity.
 */
export function Schedules({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { vpc, cullerSecurityGroup } = use(Network);
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

  const culler = hublessFunction(stack, 'Culler', {
    handler: 'culler',
    config,
    environment,
    timeout: Duration.minutes(Math.min(config.cullEveryMinutes, 5)),
    vpc: { vpc, securityGroup: cullerSecurityGroup },
  });
  grantCapabilities(culler, cp, ['sessions', 'observe', 'reconcile', 'routes', 'events', 'lab-tokens']);
  new Rule(stack, 'CullSchedule', {
    description: 'hubless idle culler',
    schedule: Schedule.rate(Duration.minutes(config.cullEveryMinutes)),
    targets: [new LambdaFunction(culler, { retryAttempts: 0 })],
  });

  return { taskEvents, culler };
}
