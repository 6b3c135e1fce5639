import { finish, mutate } from '../lifecycle.ts';
import type { LabActivity } from '../ports.ts';
import { isTerminal, type Session, type StopReason } from '../session.ts';
import { readState } from '../use-cases/list-servers.ts';
import { stopSession } from '../use-cases/stop-server.ts';
import { decideCull } from './policy.ts';
import { mapPool } from './pool.ts';
import { type CullerDeps, cullSettings } from './ports.ts';

export type CullCode = 'idle' | 'max-age' | 'quota';

export type CheckOutcome =
  | { kind: 'kept' }
  | { kind: 'culled'; code: CullCode }
  /** The lab did not answer; not yet enough misses in a row to act. */
  | { kind: 'miss'; misses: number }
  /** Enough misses, the compute says it is gone: recorded as ended. */
  | { kind: 'lost' }
  /** Enough misses, the compute says it still runs: stopped with code 'lost'. */
  | { kind: 'unreachable-stopped' }
  /** Someone else changed the session meanwhile (user stop, a newer session): left alone. */
  | { kind: 'changed' }
  | { kind: 'error'; message: string };

export interface SweepResult {
  /** Ready sessions read from the state index. */
  read: number;
  checked: number;
  kept: number;
  culled: Record<CullCode, number>;
  misses: number;
  lost: number;
  unreachableStopped: number;
  errors: number;
  /**
   * True when most probes failed in this sweep: the culler itself is probably cut off
   * (network, a bad token setting), so no lab was stopped just for not answering.
   */
  probesSuspect: boolean;
  /** The swept sessions as stored afterwards, for reconciliation. */
  sessions: Session[];
}

/** At least this many probes, and at least half failing, before the sweep distrusts its own probes. */
const SUSPECT_MIN_PROBES = 5;
const SUSPECT_FAILURE_RATIO = 0.5;
/**
 * Recording activity costs a write per active lab per sweep (with 10,000 active labs
 * and a sweep a minute, 14 million writes a day). The lab reports its own activity on
 * every probe, so the stored copy only needs to be roughly current: it is rewritten
 * once it lags by a quarter of the idle timeout (at least a minute).
 */
function activityWriteGranularityMs(idleTimeoutSeconds: number): number {
  return Math.max(60, idleTimeoutSeconds / 4) * 1000;
}

type Probed = { session: Session; activity: LabActivity } | { session: Session; error: unknown };

/**
 * One idle sweep (jupyterhub-idle-culler's loop, without a hub): reads only `ready`
 * sessions from the state index (starting ones are skipped; stopping ones belong to
 * reconciliation), probes each lab with bounded concurrency, then acts on each result.
 *
 * A lab that does not answer is never stopped on the first miss: misses are counted on
 * the session (conditional writes), and only after `probeMissLimit` in a row does the
 * sweep ask the compute. Exited: the session is recorded as ended with the compute's
 * reason. Still running yet unreachable for that long (hung, out of memory, cut off):
 * it is stopped with code 'lost', because its owner cannot use it either and it holds
 * a routing slot and money. Files in the home directory survive either way.
 */
export async function sweepIdle(deps: CullerDeps): Promise<SweepResult> {
  const settings = cullSettings(deps);
  const ready = await readState(deps.store, 'ready');

  const probed = await mapPool(ready, settings.concurrency, async (session): Promise<Probed> => {
    try {
      return { session, activity: await deps.probe.probe(session) };
    } catch (error) {
      return { session, error };
    }
  });
  const failures = probed.filter((p) => 'error' in p).length;
  const probesSuspect =
    probed.length >= SUSPECT_MIN_PROBES && failures / probed.length >= SUSPECT_FAILURE_RATIO;
  if (probesSuspect) {
    deps.log?.(
      'warn',
      'most labs did not answer the culler; no lab is stopped for not answering in this sweep',
      {
        failures,
        probed: probed.length,
      },
    );
  }

  const acted = await mapPool(probed, settings.concurrency, async (item) => {
    try {
      return 'activity' in item
        ? await onAnswer(deps, item.session, item.activity)
        : await onMiss(deps, item.session, item.error, probesSuspect);
    } catch (error) {
      deps.log?.('error', 'culler could not check a session', {
        sessionId: item.session.id,
        error: String(error),
      });
      return { outcome: { kind: 'error', message: String(error) } as CheckOutcome, session: item.session };
    }
  });

  const result: SweepResult = {
    read: ready.length,
    checked: probed.length,
    kept: 0,
    culled: { idle: 0, 'max-age': 0, quota: 0 },
    misses: 0,
    lost: 0,
    unreachableStopped: 0,
    errors: 0,
    probesSuspect,
    sessions: acted.map((a) => a.session),
  };
  for (const { outcome } of acted) {
    if (outcome.kind === 'kept') result.kept++;
    else if (outcome.kind === 'culled') result.culled[outcome.code]++;
    else if (outcome.kind === 'miss') result.misses++;
    else if (outcome.kind === 'lost') result.lost++;
    else if (outcome.kind === 'unreachable-stopped') result.unreachableStopped++;
    else if (outcome.kind === 'error') result.errors++;
  }
  return result;
}

interface Acted {
  outcome: CheckOutcome;
  session: Session;
}

async function onAnswer(deps: CullerDeps, session: Session, activity: LabActivity): Promise<Acted> {
  const settings = cullSettings(deps);
  const now = deps.clock.now();
  const quotaOn = settings.dailyQuotaHours > 0 && deps.usage !== undefined;
  const decision = decideCull(
    {
      idleTimeoutSeconds: deps.settings.idleTimeoutSeconds,
      maxAgeSeconds: deps.settings.maxAgeSeconds,
      busyKernelProtects: settings.busyKernelProtects,
      busyKernelMaxSeconds: settings.busyKernelMaxSeconds,
      dailyQuotaHours: settings.dailyQuotaHours,
      clockSkewSeconds: settings.clockSkewSeconds,
    },
    { session, activity, now, usedSecondsToday: quotaOn ? await deps.usage!(session.user, now) : undefined },
  );

  if (decision.action === 'cull') {
    const code = decision.reason.code as CullCode;
    deps.log?.('info', 'culling server', {
      sessionId: session.id,
      reason: code,
      idleSeconds: decision.idleSeconds,
      connections: decision.connections,
      stuckKernels: decision.stuckKernels,
    });
    const after = await stopSession(deps, session, decision.reason);
    const mine = after.id === session.id && after.reason?.code === code;
    return { outcome: mine ? { kind: 'culled', code } : { kind: 'changed' }, session: after };
  }

  const moved =
    Date.parse(decision.lastActivity) - Date.parse(session.lastActivity ?? '') >=
    activityWriteGranularityMs(deps.settings.idleTimeoutSeconds);
  if (!moved && !session.probeMisses && session.lastActivity) return { outcome: { kind: 'kept' }, session };
  const after = await mutate(deps, session, (current) =>
    current.id === session.id && current.state === 'ready'
      ? {
          ...current,
          lastActivity: laterOf(current.lastActivity, decision.lastActivity),
          probeMisses: undefined,
          updatedAt: now.toISOString(),
        }
      : undefined,
  );
  return {
    outcome: after.state === 'ready' && after.id === session.id ? { kind: 'kept' } : { kind: 'changed' },
    session: after,
  };
}

async function onMiss(
  deps: CullerDeps,
  session: Session,
  error: unknown,
  probesSuspect: boolean,
): Promise<Acted> {
  const settings = cullSettings(deps);
  const misses = (session.probeMisses ?? 0) + 1;
  deps.log?.('warn', 'lab did not answer the culler', {
    sessionId: session.id,
    misses,
    error: String(error),
  });

  if (misses >= settings.probeMissLimit) {
    const status = session.computeHandle
      ? await deps.compute.poll(session.computeHandle)
      : ({ state: 'exited', code: 'lost', reason: 'The server has no compute handle.' } as const);
    if (status.state === 'exited') {
      const after = await finish(deps, session, { code: status.code, reason: status.reason });
      return {
        outcome: isTerminal(after.state) && after.id === session.id ? { kind: 'lost' } : { kind: 'changed' },
        session: after,
      };
    }
    if (!probesSuspect) {
      const reason: StopReason = {
        code: 'lost',
        message:
          `Stopped because the server stopped answering (${misses} checks in a row). ` +
          'Files in your home directory are kept; start the server again.',
      };
      const after = await stopSession(deps, session, reason);
      const mine = after.id === session.id && after.reason?.code === 'lost';
      return { outcome: mine ? { kind: 'unreachable-stopped' } : { kind: 'changed' }, session: after };
    }
  }

  const now = deps.clock.now().toISOString();
  const after = await mutate(deps, session, (current) =>
    current.id === session.id && current.state === 'ready'
      ? { ...current, probeMisses: (current.probeMisses ?? 0) + 1, updatedAt: now }
      : undefined,
  );
  return {
    outcome:
      after.state === 'ready' && after.id === session.id
        ? { kind: 'miss', misses: after.probeMisses ?? misses }
        : { kind: 'changed' },
    session: after,
  };
}

function laterOf(a: string | undefined, b: string): string {
  return a && Date.parse(a) > Date.parse(b) ? a : b;
}
