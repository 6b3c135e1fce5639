import type { EventSink, LifecycleEvent } from '../ports.ts';
import type { Metrics } from './ports.ts';
import type { ReconcileResult } from './reconcile.ts';
import type { SweepResult } from './sweep.ts';

/**
 * Metric names, in one place so the dashboard and alarms (stacks/Monitoring.ts) import
 * them; docs/operations.md says what each means. Every metric carries the `Stage`
 * dimension; besides it: `State` on SessionsByState, `Type` and `Reason` on SessionEnds,
 * `Reason` on CullsRequested. StartsFailed has no other dimension, so one alarm sees
 * every failed start whatever its reason.
 */
/** The CloudWatch namespace of every hubless metric. */
export const METRIC_NAMESPACE = 'hubless';

export const METRIC = {
  sessionsByState: 'SessionsByState',
  spawnSeconds: 'SpawnSeconds',
  sessionSeconds: 'SessionSeconds',
  sessionEnds: 'SessionEnds',
  startsFailed: 'StartsFailed',
  cullsRequested: 'CullsRequested',
  sweepMilliseconds: 'SweepMilliseconds',
  sweepItemsRead: 'SweepItemsRead',
  sweepChecked: 'SweepChecked',
  probeMisses: 'ProbeMisses',
  sessionsLost: 'SessionsLost',
  reconcileRepairs: 'ReconcileRepairs',
  sweepErrors: 'SweepErrors',
  sweepSkipped: 'SweepSkipped',
} as const;

/** Publishes one sweep's numbers (see METRIC). */
export function putSweepMetrics(
  metrics: Metrics,
  sweep: SweepResult,
  reconciled: ReconcileResult | undefined,
  durationMs: number,
): void {
  metrics.put([
    { name: METRIC.sweepMilliseconds, value: durationMs, unit: 'Milliseconds' },
    { name: METRIC.sweepItemsRead, value: sweep.read + (reconciled?.read ?? 0), unit: 'Count' },
    { name: METRIC.sweepChecked, value: sweep.checked, unit: 'Count' },
    { name: METRIC.probeMisses, value: sweep.misses, unit: 'Count' },
    {
      name: METRIC.sessionsLost,
      value: sweep.lost + sweep.unreachableStopped + (reconciled?.lostSessions ?? 0),
      unit: 'Count',
    },
    { name: METRIC.sweepErrors, value: sweep.errors + (reconciled?.errors ?? 0), unit: 'Count' },
  ]);
  for (const [reason, count] of Object.entries(sweep.culled)) {
    metrics.put([{ name: METRIC.cullsRequested, value: count, unit: 'Count' }], { Reason: reason });
  }
  if (reconciled) {
    const repairs =
      reconciled.orphanTasksStopped +
      reconciled.orphanRoutesDeleted +
      reconciled.routesRestored +
      reconciled.lostSessions +
      reconciled.stuckAdvanced +
      reconciled.stuckFailed +
      reconciled.stopsRetried;
    metrics.put([{ name: METRIC.reconcileRepairs, value: repairs, unit: 'Count' }]);
    for (const [state, count] of Object.entries(reconciled.sessions)) {
      if (state === 'stopped' || state === 'failed') continue;
      metrics.put([{ name: METRIC.sessionsByState, value: count, unit: 'Count' }], { State: state });
    }
  }
}

/**
 * Wraps an EventSink so every lifecycle event also becomes a metric: spawn time from
 * `ready` (request to ready), session length and end counts (by type and reason) from
 * `stop`, `cull` and `fail`, and failed starts from `fail`. Metrics never make
 * publishing fail.
 */
export function withEventMetrics(sink: EventSink, metrics: Metrics): EventSink {
  return {
    async publish(event: LifecycleEvent): Promise<void> {
      await sink.publish(event);
      try {
        if (event.type === 'ready' && event.durationSeconds !== undefined) {
          metrics.put([{ name: METRIC.spawnSeconds, value: event.durationSeconds, unit: 'Seconds' }]);
        } else if (event.type === 'stop' || event.type === 'cull' || event.type === 'fail') {
          metrics.put([{ name: METRIC.sessionEnds, value: 1, unit: 'Count' }], {
            Type: event.type,
            Reason: event.reason ?? 'unknown',
          });
          // A session that fails ended before it was ever ready: a failed start.
          if (event.type === 'fail') metrics.put([{ name: METRIC.startsFailed, value: 1, unit: 'Count' }]);
          if (event.durationSeconds !== undefined) {
            metrics.put([{ name: METRIC.sessionSeconds, value: event.durationSeconds, unit: 'Seconds' }]);
          }
        }
      } catch {
        // A metric is never worth a failed lifecycle step.
      }
    },
  };
}
