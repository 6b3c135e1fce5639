import { METRIC, putSweepMetrics } from '../culling/metrics.ts';
import { type CullerDeps, cullSettings } from '../culling/ports.ts';
import { type ReconcileResult, reconcile } from '../culling/reconcile.ts';
import { type CullCode, sweepIdle } from '../culling/sweep.ts';
import type { SessionState } from '../session.ts';

/** The lease every sweep takes, so two never run at once. */
export const CULLER_LEASE = 'culler';

export interface CullSummary {
  checked: number;
  kept: number;
  culled: Record<CullCode, number>;
  misses: number;
  /** Sessions recorded as ended (or stopped) because their server was gone or unreachable. */
  lost: number;
  /** True when most probes failed, so nobody was stopped for not answering (see SweepResult). */
  probesSuspect: boolean;
  reconciled: Omit<ReconcileResult, 'sessions' | 'read' | 'errors'> | undefined;
  sessions: Record<SessionState, number> | undefined;
  /** Session items read from the table in this run. */
  itemsRead: number;
  errors: number;
  durationMs: number;
}

export type CullRun = CullSummary | { skipped: 'lease-held' };

export interface CullOptions {
  /** Who takes the lease; a random id by default. */
  holder?: string;
  /** false: idle sweep only. Default true. */
  reconcile?: boolean;
}

/**
 * One scheduled culler run: takes the lease (a second run at the same time returns
 * `{ skipped: 'lease-held' }`), sweeps idle labs, reconciles compute and routes with
 * the table, publishes metrics and gives the lease back.
 */
export async function cullServers(deps: CullerDeps, options: CullOptions = {}): Promise<CullRun> {
  const holder = options.holder ?? `sweep-${deps.randomId(6)}`;
  if (!(await deps.lease.acquire(CULLER_LEASE, holder, cullSettings(deps).leaseSeconds))) {
    deps.metrics.put([{ name: METRIC.sweepSkipped, value: 1, unit: 'Count' }]);
    return { skipped: 'lease-held' };
  }
  const started = performance.now();
  try {
    const sweep = await sweepIdle(deps);
    const reconciled =
      options.reconcile === false ? undefined : await reconcile(deps, { ready: sweep.sessions });
    const durationMs = Math.round(performance.now() - started);
    putSweepMetrics(deps.metrics, sweep, reconciled, durationMs);
    let repairs: CullSummary['reconciled'];
    if (reconciled) {
      const { sessions: _sessions, read: _read, errors: _errors, ...rest } = reconciled;
      repairs = rest;
    }
    return {
      checked: sweep.checked,
      kept: sweep.kept,
      culled: sweep.culled,
      misses: sweep.misses,
      lost: sweep.lost + sweep.unreachableStopped,
      probesSuspect: sweep.probesSuspect,
      reconciled: repairs,
      sessions: reconciled?.sessions,
      itemsRead: sweep.read + (reconciled?.read ?? 0),
      errors: sweep.errors + (reconciled?.errors ?? 0),
      durationMs,
    };
  } finally {
    await deps.lease.release(CULLER_LEASE, holder);
  }
}
