import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EmfMetrics } from '../../functions/adapters/metrics/emf.ts';
import {
  METRIC,
  METRIC_NAMESPACE,
  putSweepMetrics,
  withEventMetrics,
} from '../../functions/core/culling/metrics.ts';
import type { ReconcileResult } from '../../functions/core/culling/reconcile.ts';
import type { SweepResult } from '../../functions/core/culling/sweep.ts';
import type { LifecycleEvent } from '../../functions/core/ports.ts';
import { TEST_STAGE_DEFAULTS } from '../../stacks/config.ts';
import { ALARMS, POOL_NEARLY_FULL_PERCENT } from '../../stacks/Monitoring.ts';
import { synthesize } from './synth.ts';

/**
 * The Monitoring stack: a dashboard and alarms for failed starts, pool capacity,
 * throttling and the culler. CloudWatch matches a metric by namespace, name and the
 * exact set of dimensions, so an alarm on a name the code never writes, or with one
 * dimension too many, stays quiet forever: these tests tie every alarm to what the
 * code emits.
 */
type Resource = { Type: string; Properties: Record<string, any> };
interface MetricRef {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}

let synth: Awaited<ReturnType<typeof synthesize>>;
let template: Template;
let alarms: Record<string, Resource>;
let stage: string;

beforeAll(async () => {
  synth = await synthesize();
  template = synth.templates.Monitoring;
  alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>;
  const anyFunction = Object.values(synth.templates.Schedules.findResources('AWS::Lambda::Function')).find(
    (fn) => (fn as Resource).Properties.Environment?.Variables?.HUBLESS_STAGE,
  ) as Resource;
  stage = anyFunction.Properties.Environment.Variables.HUBLESS_STAGE;
});

function alarmNamed(suffix: string): Record<string, any> {
  const found = Object.values(alarms).filter((a) => a.Properties.AlarmName === `hubless-${stage}-${suffix}`);
  expect(found).toHaveLength(1);
  return (found[0] as Resource).Properties;
}

/** The metrics an alarm reads, whether it watches one metric or a math expression. */
function metricsOf(alarm: Record<string, any>): MetricRef[] {
  const dims = (list: Array<{ Name: string; Value: unknown }> = []) =>
    Object.fromEntries(list.map((d) => [d.Name, typeof d.Value === 'string' ? d.Value : '<token>']));
  if (alarm.MetricName)
    return [{ namespace: alarm.Namespace, name: alarm.MetricName, dimensions: dims(alarm.Dimensions) }];
  return (alarm.Metrics as Array<Record<string, any>>)
    .filter((m) => m.MetricStat)
    .map((m) => ({
      namespace: m.MetricStat.Metric.Namespace,
      name: m.MetricStat.Metric.MetricName,
      dimensions: dims(m.MetricStat.Metric.Dimensions),
    }));
}

/** Every (name, dimensions) the real code writes, captured from EmfMetrics as the Lambdas configure it. */
async function emittedMetrics(): Promise<MetricRef[]> {
  const lines: string[] = [];
  const metrics = new EmfMetrics({ dimensions: { Stage: stage }, write: (line) => lines.push(line) });
  const sink = withEventMetrics({ publish: async () => undefined }, metrics);
  const base = { time: '2026-11-21T10:00:00Z', user: 'ada', server: '', sessionId: 'ada__1' };
  const events: LifecycleEvent[] = [
    { ...base, type: 'ready', durationSeconds: 40 },
    { ...base, type: 'fail', reason: 'capacity', durationSeconds: 2 },
    { ...base, type: 'fail', reason: 'start-failed', durationSeconds: 30 },
    { ...base, type: 'cull', reason: 'idle', durationSeconds: 3600 },
  ];
  for (const event of events) await sink.publish(event);
  const sweep: SweepResult = {
    read: 3,
    checked: 3,
    kept: 2,
    culled: { idle: 1 } as SweepResult['culled'],
    misses: 0,
    lost: 0,
    unreachableStopped: 0,
    errors: 1,
    probesSuspect: false,
    sessions: [],
  };
  const reconciled: ReconcileResult = {
    read: 2,
    errors: 0,
    lostSessions: 0,
    orphanTasksStopped: 0,
    orphanRoutesDeleted: 0,
    routesRestored: 0,
    stuckAdvanced: 0,
    stuckFailed: 0,
    stopsRetried: 0,
    sessions: { pending: 0, launching: 1, running: 1, ready: 1, stopping: 0, stopped: 0, failed: 0 },
  };
  putSweepMetrics(metrics, sweep, reconciled, 12);

  return lines.flatMap((line) => {
    const parsed = JSON.parse(line);
    const directive = parsed._aws.CloudWatchMetrics[0];
    const dimensions = Object.fromEntries(
      (directive.Dimensions[0] as string[]).map((key) => [key, String(parsed[key])]),
    );
    return (directive.Metrics as Array<{ Name: string }>).map((m) => ({
      namespace: directive.Namespace,
      name: m.Name,
      dimensions,
    }));
  });
}

describe('Monitoring', () => {
  it('has the alarms an operator needs, each notifying the alarm topic', () => {
    const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
    expect(topics).toHaveLength(1);
    for (const suffix of Object.values(ALARMS)) {
      const alarm = alarmNamed(suffix);
      expect(alarm.AlarmActions).toEqual([{ Ref: topics[0] }]);
      expect(alarm.AlarmDescription).toContain('docs/operations.md');
    }
    template.hasOutput('AlarmTopic', {});
  });

  it('reads only hubless metrics the code emits, with exactly the dimensions it writes', async () => {
    const emitted = await emittedMetrics();
    const key = (m: MetricRef) => JSON.stringify([m.namespace, m.name, Object.entries(m.dimensions).sort()]);
    const emittedKeys = new Set(emitted.map(key));
    const read = Object.values(alarms).flatMap((a) => metricsOf(a.Properties));
    const ours = read.filter((m) => m.namespace === METRIC_NAMESPACE);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.map(key).filter((k) => !emittedKeys.has(k))).toEqual([]);
    // Everything else comes from AWS itself (Lambda throttles and errors, the dead-letter queue's depth).
    expect([
      ...new Set(read.filter((m) => m.namespace !== METRIC_NAMESPACE).map((m) => m.namespace)),
    ]).toEqual(['AWS/Lambda', 'AWS/SQS']);
  });

  it('alarms on any failed start reason, not just one', () => {
    const [metric] = metricsOf(alarmNamed(ALARMS.startsFailed));
    expect(metric).toEqual({
      namespace: METRIC_NAMESPACE,
      name: 'StartsFailed',
      dimensions: { Stage: stage },
    });
  });

  it('alarms when a start is refused for capacity, and before that, when the pool is nearly full', () => {
    const [refused] = metricsOf(alarmNamed(ALARMS.poolFull));
    expect(refused?.dimensions).toEqual({ Stage: stage, Type: 'fail', Reason: 'capacity' });
    const nearlyFull = alarmNamed(ALARMS.poolNearlyFull);
    expect(nearlyFull.Threshold).toBe(POOL_NEARLY_FULL_PERCENT);
    const expression = (nearlyFull.Metrics as Array<Record<string, any>>).find((m) => m.Expression);
    // 49 sessions per ALB at the default rules quota: each session takes two of its 100
    // listener rules (pages, and the API that answers 401 once the sign-in ends), one is the portal's.
    expect(expression?.Expression).toContain(`/ ${TEST_STAGE_DEFAULTS.albPoolSize * 49}`);
    expect(metricsOf(nearlyFull).map((m) => m.dimensions.State)).toEqual([
      'launching',
      'running',
      'ready',
      'stopping',
    ]);
  });

  it('alarms on throttling of every hubless function', () => {
    const metrics = metricsOf(alarmNamed(ALARMS.throttles));
    expect(metrics.map((m) => m.name)).toEqual(['Throttles', 'Throttles', 'Throttles', 'Throttles']);
  });

  it('alarms on culler errors and on a culler that stopped running', () => {
    const errors = metricsOf(alarmNamed(ALARMS.cullerErrors)).map((m) => `${m.namespace}/${m.name}`);
    expect(errors.sort()).toEqual(['AWS/Lambda/Errors', 'hubless/SweepErrors']);
    const stopped = alarmNamed(ALARMS.cullerStopped);
    expect(stopped.TreatMissingData).toBe('breaching');
    expect(stopped.ComparisonOperator).toBe('LessThanThreshold');
  });

  it('alarms as soon as one launch is in the launch dead-letter queue, and on no other queue', () => {
    const alarm = alarmNamed(ALARMS.launchesDeadLettered);
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    // The queue named is the one the launch queue sends its dead letters to (a cross-stack reference).
    const queues = synth.templates.Compute.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const launchQueue = Object.values(queues).find((q) => q.Properties.RedrivePolicy);
    const deadLetterId = launchQueue?.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
    expect(Object.keys(queues)).toContain(deadLetterId);
    const named = JSON.stringify(alarm.Dimensions);
    expect(alarm.Dimensions).toHaveLength(1);
    expect(alarm.Dimensions[0].Name).toBe('QueueName');
    expect(named).toContain(deadLetterId);
    for (const id of Object.keys(queues)) if (id !== deadLetterId) expect(named).not.toContain(id);
  });

  it('draws a dashboard named after the stage', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `hubless-${stage}` });
  });

  it('is explained in docs/operations.md: every alarm, and every metric the code emits', () => {
    const page = readFileSync(path.resolve(import.meta.dirname, '../../docs/operations.md'), 'utf8');
    const rows = (name: string) => page.split('\n').filter((line) => line.startsWith(`| ${name} `));
    for (const suffix of Object.values(ALARMS)) expect(rows(`**${suffix}**`)).toHaveLength(1);
    for (const name of Object.values(METRIC)) expect(rows(`\`${name}\``)).toHaveLength(1);
  });
});
