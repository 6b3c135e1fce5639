import { CfnOutput, Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { NagSuppressions } from 'cdk-nag';
import { type StackContext, use } from 'sst/constructs';
import { sessionsPerAlb } from '../functions/adapters/aws/alb-slots.ts';
import { METRIC, METRIC_NAMESPACE } from '../functions/core/culling/metrics.ts';
import type { SessionState } from '../functions/core/session.ts';
import { Api } from './Api.ts';
import { Compute } from './Compute.ts';
import { useStageConfig } from './config.ts';
import { Routing } from './Routing.ts';
import { Schedules } from './Schedules.ts';

/** The alarms, by the suffix of their name (`hubless-<stage>-<suffix>`); docs/operations.md explains each. */
export const ALARMS = {
  startsFailed: 'StartsFailed',
  poolFull: 'PoolFull',
  poolNearlyFull: 'PoolNearlyFull',
  throttles: 'LambdaThrottles',
  cullerErrors: 'CullerErrors',
  cullerStopped: 'CullerStopped',
  launchesDeadLettered: 'LaunchDeadLetters',
} as const;

/** Percent of the pool's routing slots in use at which PoolNearlyFull fires. */
export const POOL_NEARLY_FULL_PERCENT = 80;

/** Sessions that hold a routing slot, or are about to take one. */
const SLOT_STATES: readonly SessionState[] = ['launching', 'running', 'ready', 'stopping'];

/**
 * What an operator watches: one dashboard and the alarms for failed starts, pool
 * capacity, throttling, the culler and launches that gave up, all notifying one SNS topic (the `AlarmTopic`
 * output: subscribe an e-mail address or a pager to it).
 *
 * The hubless metrics are the ones the handlers write as CloudWatch embedded metric
 * format lines (functions/core/culling/metrics.ts), with the stage as `Stage`;
 * test/infra/monitoring.test.ts checks that every alarm reads a metric the code emits
 * with exactly those dimensions (CloudWatch matches dimension sets exactly, so a name
 * that is right with one dimension too many would never fire).
 */
export function Monitoring({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { portal } = use(Routing);
  const { api } = use(Api);
  const { taskEvents, culler } = use(Schedules);
  const { launchDeadLetters } = use(Compute);
  const functions = { portal, api, taskEvents, culler };

  const fiveMinutes = Duration.minutes(5);
  // SessionsByState and the sweep metrics come once per culler run.
  const cullPeriod = Duration.minutes(Math.max(5, config.cullEveryMinutes));
  const hubless = (
    metricName: string,
    statistic: string,
    options: { dimensions?: Record<string, string>; period?: Duration; label?: string } = {},
  ): Metric =>
    new Metric({
      namespace: METRIC_NAMESPACE,
      metricName,
      dimensionsMap: { Stage: app.stage, ...options.dimensions },
      statistic,
      period: options.period ?? fiveMinutes,
      label: options.label,
    });

  const topic = new Topic(stack, 'Alarms', { displayName: `hubless ${app.stage} alarms`, enforceSSL: true });
  NagSuppressions.addResourceSuppressions(topic, [
    {
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and metric values only; CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key.',
    },
  ]);
  const alarm = (suffix: string, description: string, props: AlarmProps): Alarm => {
    const created = new Alarm(stack, `${suffix}Alarm`, {
      alarmName: `hubless-${app.stage}-${suffix}`,
      alarmDescription: `${description} See docs/operations.md, "${suffix}".`,
      metric: props.metric,
      threshold: props.threshold,
      evaluationPeriods: props.evaluationPeriods ?? 1,
      comparisonOperator: props.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: props.missing ?? TreatMissingData.NOT_BREACHING,
    });
    created.addAlarmAction(new SnsAction(topic));
    return created;
  };

  const startsFailed = hubless(METRIC.startsFailed, 'Sum', { label: 'failed starts' });
  const capacityRefusals = hubless(METRIC.sessionEnds, 'Sum', {
    dimensions: { Type: 'fail', Reason: 'capacity' },
    label: 'starts refused: pool full',
  });
  const slotsTotal = config.albPoolSize * sessionsPerAlb(config.albRulesQuota);
  const byState = Object.fromEntries(
    SLOT_STATES.map((state) => [
      state,
      hubless(METRIC.sessionsByState, 'Maximum', { dimensions: { State: state }, period: cullPeriod }),
    ]),
  );
  const poolUse = new MathExpression({
    expression: `100 * (${SLOT_STATES.join(' + ')}) / ${slotsTotal}`,
    usingMetrics: byState,
    period: cullPeriod,
    label: `pool use (% of ${slotsTotal} slots)`,
  });
  const throttles = new MathExpression({
    expression: Object.keys(functions).join(' + '),
    usingMetrics: Object.fromEntries(
      Object.entries(functions).map(([name, fn]) => [name, fn.metricThrottles({ period: fiveMinutes })]),
    ),
    period: fiveMinutes,
    label: 'Lambda throttles',
  });
  const cullerErrors = new MathExpression({
    expression: 'sweep + invocation',
    usingMetrics: {
      sweep: hubless(METRIC.sweepErrors, 'Sum', { period: cullPeriod }),
      invocation: culler.metricErrors({ period: cullPeriod }),
    },
    period: cullPeriod,
    label: 'culler errors',
  });
  const sweeps = hubless(METRIC.sweepChecked, 'SampleCount', { period: cullPeriod, label: 'culler runs' });
  // A launch lands here after LAUNCH_MAX_RECEIVES failed tries: its student's start failed
  // (the reconciler says so as 'stuck'), and the message says which session and why it kept failing.
  const deadLetters = launchDeadLetters.metricApproximateNumberOfMessagesVisible({
    period: fiveMinutes,
    statistic: 'Maximum',
  });

  const alarms = [
    alarm(ALARMS.startsFailed, 'Three or more servers failed to start within 5 minutes.', {
      metric: startsFailed,
      threshold: 3,
    }),
    alarm(ALARMS.poolFull, 'A start was refused because every ALB routing slot was taken.', {
      metric: capacityRefusals,
      threshold: 1,
    }),
    alarm(
      ALARMS.poolNearlyFull,
      `At least ${POOL_NEARLY_FULL_PERCENT}% of the ${slotsTotal} routing slots (${config.albPoolSize} ALBs) are taken.`,
      { metric: poolUse, threshold: POOL_NEARLY_FULL_PERCENT },
    ),
    alarm(ALARMS.throttles, 'Lambda throttled hubless functions (account concurrency).', {
      metric: throttles,
      threshold: 1,
    }),
    alarm(ALARMS.cullerErrors, 'The culler failed to probe, stop or reconcile, or its invocation failed.', {
      metric: cullerErrors,
      threshold: 1,
      evaluationPeriods: 2,
    }),
    alarm(ALARMS.cullerStopped, 'The culler has not completed a run for three of its periods.', {
      metric: sweeps,
      threshold: 1,
      evaluationPeriods: 3,
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      missing: TreatMissingData.BREACHING,
    }),
    alarm(
      ALARMS.launchesDeadLettered,
      'A launch failed on every try and is in the launch dead-letter queue: its student could not start.',
      { metric: deadLetters, threshold: 1 },
    ),
  ];

  const dashboard = new Dashboard(stack, 'Dashboard', { dashboardName: `hubless-${app.stage}` });
  const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
    new GraphWidget({ title, left, right, width: 12, height: 6 });
  dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 3 }));
  dashboard.addWidgets(
    graph(
      'Starts',
      [
        hubless(METRIC.spawnSeconds, 'p50', { label: 'start to ready p50 (s)' }),
        hubless(METRIC.spawnSeconds, 'p90', { label: 'start to ready p90 (s)' }),
      ],
      [startsFailed, capacityRefusals],
    ),
    graph('Sessions and pool', Object.values(byState), [poolUse]),
  );
  dashboard.addWidgets(
    graph(
      'Culler',
      [
        hubless(METRIC.sweepErrors, 'Sum', { period: cullPeriod }),
        hubless(METRIC.sessionsLost, 'Sum', { period: cullPeriod }),
        hubless(METRIC.reconcileRepairs, 'Sum', { period: cullPeriod }),
        hubless(METRIC.probeMisses, 'Sum', { period: cullPeriod }),
      ],
      [hubless(METRIC.sweepMilliseconds, 'Maximum', { period: cullPeriod })],
    ),
    graph(
      'Lambda errors and throttles',
      Object.entries(functions).map(([name, fn]) => fn.metricErrors({ label: `${name} errors` })),
      [throttles],
    ),
  );

  new CfnOutput(stack, 'AlarmTopic', { value: topic.topicArn });
  new CfnOutput(stack, 'DashboardName', { value: `hubless-${app.stage}` });
  return { topic, dashboard, alarms };
}

interface AlarmProps {
  metric: IMetric;
  threshold: number;
  evaluationPeriods?: number;
  comparison?: ComparisonOperator;
  missing?: TreatMissingData;
}
