import { METRIC_NAMESPACE } from '../../core/culling/metrics.ts';
import type { MetricDatum, Metrics } from '../../core/culling/ports.ts';

export interface EmfMetricsOptions {
  /** CloudWatch namespace. Default METRIC_NAMESPACE ("hubless"), which the stacks' alarms read. */
  namespace?: string;
  /** Added to every line, e.g. { Stage: 'prod' }. */
  dimensions?: Record<string, string>;
  /** Where lines go: stdout by default (Lambda sends stdout to CloudWatch Logs). */
  write?: (line: string) => void;
  now?: () => number;
}

/**
 * Metrics as CloudWatch Embedded Metric Format: one JSON object per line, with the
 * `_aws.CloudWatchMetrics` directive naming which members are metrics. In Lambda,
 * CloudWatch Logs extracts them with no API call (and no latency in the handler);
 * locally the same lines are plain JSON logs.
 */
export class EmfMetrics implements Metrics {
  readonly #namespace: string;
  readonly #dimensions: Record<string, string>;
  readonly #write: (line: string) => void;
  readonly #now: () => number;

  constructor(options: EmfMetricsOptions = {}) {
    this.#namespace = options.namespace ?? METRIC_NAMESPACE;
    this.#dimensions = options.dimensions ?? {};
    this.#write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.#now = options.now ?? Date.now;
  }

  put(data: MetricDatum[], dimensions: Record<string, string> = {}): void {
    if (data.length === 0) return;
    const allDimensions = { ...this.#dimensions, ...dimensions };
    const line: Record<string, unknown> = {
      _aws: {
        Timestamp: this.#now(),
        CloudWatchMetrics: [
          {
            Namespace: this.#namespace,
            Dimensions: [Object.keys(allDimensions)],
            Metrics: data.map((d) => ({ Name: d.name, Unit: d.unit })),
          },
        ],
      },
      ...allDimensions,
    };
    for (const datum of data) line[datum.name] = datum.value;
    try {
      this.#write(JSON.stringify(line));
    } catch {
      // Metrics never fail the caller.
    }
  }
}

/** Metrics that go nowhere, for callers that do not care. */
export const discardMetrics: Metrics = { put: () => undefined };
