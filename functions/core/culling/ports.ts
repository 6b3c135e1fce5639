import type { CoreDeps } from '../deps.ts';
import type { ActivityProbe } from '../ports.ts';

/**
 * Ports only the culler needs. They live here rather than in core/ports.ts so the
 * rest of core does not grow a dependency on the sweep; wiring adds them to the deps
 * it hands the culler handler (see CullerDeps).
 */

/**
 * A named, expiring lock held by one sweep at a time (one EventBridge schedule can fire
 * twice, a local timer can overlap a slow sweep, an operator can run one by hand).
 * Backed by one conditional write, so it needs no server of its own.
 */
export interface LeaseStore {
  /**
   * Takes the lease `name` for `holder` for `ttlSeconds`. True when it is now ours: it
   * was free, had expired, or we already held it (a holder may renew). False when
   * another holder has it and it has not expired. Never waits.
   */
  acquire(name: string, holder: string, ttlSeconds: number): Promise<boolean>;
  /** Gives the lease back if `holder` still holds it; otherwise does nothing. Idempotent. */
  release(name: string, holder: string): Promise<void>;
}

export type MetricUnit = 'Count' | 'Seconds' | 'Milliseconds' | 'None';

export interface MetricDatum {
  name: string;
  value: number;
  unit: MetricUnit;
}

/**
 * Numbers for dashboards and alarms. `put` never throws and never blocks on the
 * network: the EMF adapter writes one JSON line to stdout, which CloudWatch Logs turns
 * into metrics (and local mode simply logs).
 */
export interface Metrics {
  put(data: MetricDatum[], dimensions?: Record<string, string>): void;
}

/**
 * Seconds of server time `user` used on the UTC day of `now`, counting FINISHED
 * sessions only: the culler adds the time of the session it is looking at itself, so
 * a source that also counted running sessions would charge them twice.
 */
export type UsageSource = (user: string, now: Date) => Promise<number>;

/** Culler settings that are not part of core Settings. Every field has a default (DEFAULT_CULL_SETTINGS). */
export interface CullSettings {
  /** A running kernel ("busy") counts as activity... */
  busyKernelProtects: boolean;
  /** ...but only for this long: a kernel stuck busy must not keep a server alive forever. */
  busyKernelMaxSeconds: number;
  /** 0: no daily quota. Needs `usage`. */
  dailyQuotaHours: number;
  /** Consecutive failed probes before the culler looks at the compute itself. */
  probeMissLimit: number;
  /** How many labs are probed (and stopped) at once. */
  concurrency: number;
  /** A stop that has not finished after this long is asked again. */
  stoppingTimeoutSeconds: number;
  /** How long one sweep may hold the lease; a crashed sweep frees it after this. */
  leaseSeconds: number;
  /** Timestamps this far ahead of our clock are clock skew (treated as now); further ahead they are ignored. */
  clockSkewSeconds: number;
}

export const DEFAULT_CULL_SETTINGS: CullSettings = {
  busyKernelProtects: true,
  busyKernelMaxSeconds: 24 * 3600,
  dailyQuotaHours: 0,
  probeMissLimit: 3,
  concurrency: 10,
  stoppingTimeoutSeconds: 300,
  leaseSeconds: 900,
  clockSkewSeconds: 300,
};

/** The parts the culler needs besides CoreDeps. */
export interface CullingParts {
  probe: ActivityProbe;
  lease: LeaseStore;
  metrics: Metrics;
  /** Only needed for a daily quota. */
  usage?: UsageSource;
  culling?: Partial<CullSettings>;
}

export type CullerDeps = CoreDeps & CullingParts;

export function cullSettings(deps: Pick<CullingParts, 'culling'>): CullSettings {
  return { ...DEFAULT_CULL_SETTINGS, ...deps.culling };
}
