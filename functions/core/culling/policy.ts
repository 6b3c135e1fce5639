import type { LabActivity } from '../ports.ts';
import type { Session, StopReason } from '../session.ts';

/**
 * When is a lab idle? Pure: everything it needs is passed in, so every edge case is a
 * unit test. Modelled on jupyterhub-idle-culler (timeout, max-age) and SageMaker Studio
 * idle shutdown (a running kernel is work; an open browser tab is not).
 */
export interface CullPolicy {
  idleTimeoutSeconds: number;
  /** 0: servers may run for ever (while active). */
  maxAgeSeconds: number;
  busyKernelProtects: boolean;
  busyKernelMaxSeconds: number;
  /** 0 or undefined: no quota. */
  dailyQuotaHours?: number;
  clockSkewSeconds: number;
}

export interface CullInput {
  session: Session;
  activity: LabActivity;
  now: Date;
  /** Seconds of finished sessions today (UsageSource); undefined when there is no quota source. */
  usedSecondsToday?: number;
}

interface Observed {
  /** The latest trustworthy activity (ISO), including the session's own start. */
  lastActivity: string;
  idleSeconds: number;
  connections: number;
  /** Kernels busy for less than busyKernelMaxSeconds. */
  workingKernels: number;
  /** Kernels busy for longer: presumed stuck, they no longer protect the server. */
  stuckKernels: number;
}

export type CullDecision =
  | ({ action: 'keep'; why: 'active' | 'busy-kernel' } & Observed)
  | ({ action: 'cull'; reason: StopReason } & Observed);

/**
 * Decides keep or cull for one lab that answered its probe.
 *
 * Idle time is now minus the latest of: /api/status last_activity, each kernel's and
 * terminal's last_activity, the last activity recorded on the session, and when the
 * session became ready (or was created). Open connections do not count: a tab left open
 * overnight sends nothing, and jupyter's own last_activity already moves when the user
 * does something in it. Timestamps slightly in the future (clock skew between the lab
 * and us) count as now; further ahead, or unparseable, they are ignored, so a lab with a
 * broken clock cannot keep itself alive.
 *
 * Order: idle, then max-age, then quota; a working kernel only protects from idle.
 */
export function decideCull(policy: CullPolicy, input: CullInput): CullDecision {
  const nowMs = input.now.getTime();
  const skewMs = policy.clockSkewSeconds * 1000;
  const trusted = (iso: string | undefined): number | undefined => {
    if (!iso) return undefined;
    const ms = Date.parse(iso);
    if (Number.isNaN(ms) || ms > nowMs + skewMs) return undefined;
    return Math.min(ms, nowMs);
  };

  const { session, activity } = input;
  const started = trusted(session.readyAt) ?? trusted(session.createdAt) ?? nowMs;
  const candidates = [
    started,
    trusted(session.lastActivity),
    trusted(activity.lastActivity),
    trusted(activity.terminalLastActivity),
    ...activity.kernels.map((kernel) => trusted(kernel.lastActivity)),
  ].filter((ms): ms is number => ms !== undefined);
  const latest = Math.max(...candidates);

  let workingKernels = 0;
  let stuckKernels = 0;
  for (const kernel of activity.kernels) {
    if (kernel.executionState !== 'busy') continue;
    // A busy kernel's last_activity is when it last sent anything, i.e. roughly when the
    // running cell started: a cell sleeping for hours sends nothing until it finishes.
    const since = trusted(kernel.lastActivity) ?? started;
    if (nowMs - since < policy.busyKernelMaxSeconds * 1000) workingKernels++;
    else stuckKernels++;
  }

  const observed: Observed = {
    lastActivity: new Date(latest).toISOString(),
    idleSeconds: Math.max(0, Math.floor((nowMs - latest) / 1000)),
    connections: activity.connections,
    workingKernels,
    stuckKernels,
  };

  const idle = observed.idleSeconds >= policy.idleTimeoutSeconds;
  const protectedByKernel = policy.busyKernelProtects && workingKernels > 0;
  if (idle && !protectedByKernel) {
    return {
      action: 'cull',
      reason: {
        code: 'idle',
        message: `Stopped after ${formatDuration(policy.idleTimeoutSeconds)} without activity.`,
      },
      ...observed,
    };
  }

  const ageSeconds = Math.floor((nowMs - started) / 1000);
  if (policy.maxAgeSeconds > 0 && ageSeconds >= policy.maxAgeSeconds) {
    return {
      action: 'cull',
      reason: {
        code: 'max-age',
        message: `Stopped after reaching the maximum run time of ${formatDuration(policy.maxAgeSeconds)}.`,
      },
      ...observed,
    };
  }

  const quotaSeconds = (policy.dailyQuotaHours ?? 0) * 3600;
  if (quotaSeconds > 0 && input.usedSecondsToday !== undefined) {
    const dayStart = Date.UTC(input.now.getUTCFullYear(), input.now.getUTCMonth(), input.now.getUTCDate());
    const runningToday = Math.max(0, (nowMs - Math.max(started, dayStart)) / 1000);
    if (input.usedSecondsToday + runningToday >= quotaSeconds) {
      return {
        action: 'cull',
        reason: {
          code: 'quota',
          message: `Stopped because today's quota of ${formatDuration(quotaSeconds)} of server time is used up. It resets at midnight UTC.`,
        },
        ...observed,
      };
    }
  }

  return { action: 'keep', why: idle ? 'busy-kernel' : 'active', ...observed };
}

/** "45 seconds", "60 minutes", "2 hours": what the user reads on the portal. */
export function formatDuration(seconds: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds >= 7200 && seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds >= 60 && seconds % 60 === 0) return plural(seconds / 60, 'minute');
  if (seconds >= 120) return plural(Math.round(seconds / 60), 'minute');
  return plural(seconds, 'second');
}

export interface PlannedStop {
  /** The earliest time the culler stops the server if nobody uses it until then. */
  at: Date;
  why: 'idle' | 'max-age';
  /** What the user reads next to the server's state. */
  message: string;
}

/**
 * When the culler will stop a running server unless it sees activity first: the latest
 * activity recorded on the session (or when it became ready) plus the idle timeout, or the
 * maximum run time when that comes sooner. The culler records activity in coarse steps
 * (sweep.ts), so this is the earliest the stop can happen; a user at work moves it on.
 * Undefined for a server that is not running.
 */
export function plannedStop(
  session: Pick<Session, 'state' | 'readyAt' | 'createdAt' | 'lastActivity'>,
  policy: Pick<CullPolicy, 'idleTimeoutSeconds' | 'maxAgeSeconds'>,
): PlannedStop | undefined {
  if (session.state !== 'ready') return undefined;
  const started = Date.parse(session.readyAt ?? session.createdAt);
  const active = Math.max(started, Date.parse(session.lastActivity ?? '') || started);
  const idleAt = active + policy.idleTimeoutSeconds * 1000;
  const maxAt = policy.maxAgeSeconds > 0 ? started + policy.maxAgeSeconds * 1000 : Number.POSITIVE_INFINITY;
  if (Number.isNaN(idleAt)) return undefined;
  const at = new Date(Math.min(idleAt, maxAt));
  const time = `${at.toISOString().slice(11, 16)} UTC`;
  return maxAt < idleAt
    ? {
        at,
        why: 'max-age',
        message: `Stops at ${time}: the maximum run time is ${formatDuration(policy.maxAgeSeconds)}.`,
      }
    : {
        at,
        why: 'idle',
        message: `Stops for inactivity at ${time} (after ${formatDuration(policy.idleTimeoutSeconds)} without activity) unless you use it.`,
      };
}
