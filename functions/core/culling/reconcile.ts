import type { CoreDeps } from '../deps.ts';
import { advance, finish, mutate } from '../lifecycle.ts';
import type { ComputeTask, RouteEntry } from '../ports.ts';
import { isTerminal, parseSessionId, type Session, type SessionState } from '../session.ts';
import { readState } from '../use-cases/list-servers.ts';
import { formatDuration } from './policy.ts';
import { mapPool } from './pool.ts';
import { type CullerDeps, cullSettings } from './ports.ts';

export interface ReconcileResult {
  /** Live sessions per state after the sweep (for the "sessions by state" metric). */
  sessions: Record<SessionState, number>;
  /** Sessions read from the state index by reconciliation (the sweep reads `ready`). */
  read: number;
  orphanTasksStopped: number;
  orphanRoutesDeleted: number;
  routesRestored: number;
  lostSessions: number;
  stuckAdvanced: number;
  stuckFailed: number;
  stopsRetried: number;
  errors: number;
}

/** States reconciliation reads itself; `ready` comes from the sweep that just read it. */
const OTHER_LIVE_STATES = ['pending', 'launching', 'running', 'stopping'] as const;

/**
 * Makes the compute and the router agree with the session table, like JupyterHub's
 * Proxy.check_routes, and repairs a crash between any two lifecycle steps:
 *
 * - a task no live session claims is stopped (a start whose request died, a session
 *   that ended while its stop was lost);
 * - a route no live session claims is deleted (its ALB slot is freed);
 * - a ready session whose route is missing gets it back (the local gateway forgets its
 *   table on restart);
 * - a launching/running/ready session whose task is gone is recorded as ended with the
 *   compute's reason (code 'lost' when the platform forgot the task);
 * - a session stuck starting past startTimeoutSeconds is driven forward once, then
 *   failed with code 'stuck' and its task stopped; a stop that has not finished after
 *   stoppingTimeoutSeconds is asked again, and recorded as stopped after three times that.
 *
 * Compute and routes are listed BEFORE the sessions are read: a session is always
 * written before its task is started, so any task we saw has its session in what we
 * read next. Every "orphan" is confirmed with a consistent read of its own session
 * before anything is stopped.
 */
export async function reconcile(deps: CullerDeps, swept: { ready: Session[] }): Promise<ReconcileResult> {
  const settings = cullSettings(deps);
  const tasks = await deps.compute.list();
  const routes = await deps.router.listRoutes();

  const live: Session[] = swept.ready.filter((s) => !isTerminal(s.state));
  let read = 0;
  for (const state of OTHER_LIVE_STATES) {
    const sessions = await readState(deps.store, state);
    read += sessions.length;
    live.push(...sessions);
  }
  const byId = new Map(live.map((s) => [s.id, s]));

  const result: ReconcileResult = {
    sessions: { pending: 0, launching: 0, running: 0, ready: 0, stopping: 0, stopped: 0, failed: 0 },
    read,
    orphanTasksStopped: 0,
    orphanRoutesDeleted: 0,
    routesRestored: 0,
    lostSessions: 0,
    stuckAdvanced: 0,
    stuckFailed: 0,
    stopsRetried: 0,
    errors: 0,
  };
  const guarded = async (what: string, id: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      result.errors++;
      deps.log?.('error', `reconciliation could not ${what}`, { id, error: String(error) });
    }
  };

  const aliveTasks = tasks.filter((t) => t.alive);
  const aliveHandles = new Set(aliveTasks.map((t) => t.handle));
  const routed = new Set(routes.map((r) => r.sessionId));

  await mapPool(aliveTasks, settings.concurrency, (task) =>
    guarded('check a task', task.handle, async () => {
      if (claimsTask(byId.get(task.sessionId), task)) return;
      if (await taskStillClaimed(deps, task)) return;
      deps.log?.('warn', 'stopping a server no session owns', {
        handle: task.handle,
        sessionId: task.sessionId,
      });
      await deps.compute.stop(task.handle, 'No session owns this server any more.');
      result.orphanTasksStopped++;
    }),
  );

  await mapPool(routes, settings.concurrency, (entry) =>
    guarded('check a route', entry.sessionId, async () => {
      if (byId.has(entry.sessionId)) return;
      if (await routeStillClaimed(deps, entry)) return;
      deps.log?.('warn', 'deleting a route no session owns', { sessionId: entry.sessionId });
      await deps.router.deleteRoute(entry.sessionId, entry.route);
      result.orphanRoutesDeleted++;
    }),
  );

  const finalStates = await mapPool(live, settings.concurrency, async (session) => {
    let state: SessionState = session.state;
    await guarded('repair a session', session.id, async () => {
      const after = await repairSession(deps, session, { aliveHandles, routed, tasks: aliveTasks }, result);
      state = after.id === session.id ? after.state : session.state;
    });
    return state;
  });
  for (const state of finalStates) result.sessions[state]++;
  return result;
}

interface Seen {
  aliveHandles: Set<string>;
  routed: Set<string>;
  tasks: ComputeTask[];
}

async function repairSession(
  deps: CullerDeps,
  session: Session,
  seen: Seen,
  result: ReconcileResult,
): Promise<Session> {
  const settings = cullSettings(deps);
  const now = deps.clock.now();
  const ageMs = (from: string | undefined) => now.getTime() - Date.parse(from ?? session.createdAt);
  const startTimeoutMs = deps.settings.startTimeoutSeconds * 1000;

  // Task gone? Absence from list() is only a hint (ECS lists eventually); poll decides.
  if (
    (session.state === 'launching' || session.state === 'running' || session.state === 'ready') &&
    session.computeHandle &&
    !seen.aliveHandles.has(session.computeHandle)
  ) {
    const status = await deps.compute.poll(session.computeHandle);
    if (status.state === 'exited') {
      deps.log?.('warn', 'recording a session whose server is gone', {
        sessionId: session.id,
        code: status.code,
      });
      const after = await finish(deps, session, { code: status.code, reason: status.reason });
      if (isTerminal(after.state)) result.lostSessions++;
      return after;
    }
  }

  if (session.state === 'ready') {
    if (!seen.routed.has(session.id) && session.target) {
      const route = await deps.router.addRoute(session, session.target);
      result.routesRestored++;
      if (JSON.stringify(route) !== JSON.stringify(session.route)) {
        return mutate(deps, session, (current) =>
          current.id === session.id && current.state === 'ready'
            ? { ...current, route, updatedAt: now.toISOString() }
            : undefined,
        );
      }
    }
    return session;
  }

  const stuckReason = {
    code: 'stuck' as const,
    reason: `The server did not start within ${formatDuration(deps.settings.startTimeoutSeconds)}. Try again; if it keeps happening, tell your administrator.`,
  };

  if (session.state === 'pending' && ageMs(session.createdAt) > startTimeoutMs) {
    // The start request died between recording the session and the compute's answer.
    for (const task of seen.tasks.filter((t) => t.sessionId === session.id))
      await deps.compute.stop(task.handle, stuckReason.reason);
    const after = await finish(deps, session, stuckReason);
    if (isTerminal(after.state)) result.stuckFailed++;
    return after;
  }

  if (
    (session.state === 'launching' || session.state === 'running') &&
    ageMs(session.createdAt) > startTimeoutMs
  ) {
    // A lost task event would leave a healthy server waiting: one more step first.
    const after = await advance(deps, session);
    if (after.id !== session.id || after.state === 'ready' || isTerminal(after.state)) {
      result.stuckAdvanced++;
      return after;
    }
    if (after.route) await deps.router.deleteRoute(after.id, after.route);
    if (after.computeHandle) await deps.compute.stop(after.computeHandle, stuckReason.reason);
    const failed = await finish(deps, after, stuckReason);
    if (isTerminal(failed.state)) result.stuckFailed++;
    return failed;
  }

  const stoppingTimeoutMs = settings.stoppingTimeoutSeconds * 1000;
  if (session.state === 'stopping' && ageMs(session.updatedAt) > stoppingTimeoutMs) {
    const after = await advance(deps, session);
    if (after.id !== session.id || isTerminal(after.state)) {
      result.stuckAdvanced++;
      return after;
    }
    // The stop request (or its task event) was lost: take the route away and ask again.
    if (after.route) await deps.router.deleteRoute(after.id, after.route);
    if (after.computeHandle)
      await deps.compute.stop(after.computeHandle, after.reason?.message ?? 'Stopping.');
    result.stopsRetried++;
    // A compute that stops at once (local processes) can be recorded now.
    const again = await advance(deps, after);
    if (again.id !== session.id || isTerminal(again.state)) return again;
    if (ageMs(session.updatedAt) > 3 * stoppingTimeoutMs) {
      // Record it as ended; if the task still lives, it is now an orphan and the next
      // sweep stops it again, so nothing leaks while the table stops waiting.
      const ended = await finish(deps, after, {
        code: 'stuck',
        reason: 'The server did not confirm that it stopped.',
      });
      if (isTerminal(ended.state)) result.stuckFailed++;
      return ended;
    }
    return after;
  }
  return session;
}

/** Whether a live session owns this task: same session id, and its handle (or none yet: the start is in flight). */
function claimsTask(session: Session | undefined, task: ComputeTask): boolean {
  return (
    !!session &&
    !isTerminal(session.state) &&
    session.id === task.sessionId &&
    (!session.computeHandle || session.computeHandle === task.handle)
  );
}

async function taskStillClaimed(deps: CoreDeps, task: ComputeTask): Promise<boolean> {
  let owner: { user: string; server: string };
  try {
    owner = parseSessionId(task.sessionId);
  } catch {
    return true; // not a hubless session id: not ours to stop
  }
  return claimsTask(await deps.store.get(owner.user, owner.server), task);
}

async function routeStillClaimed(deps: CoreDeps, entry: RouteEntry): Promise<boolean> {
  let owner: { user: string; server: string };
  try {
    owner = parseSessionId(entry.sessionId);
  } catch {
    return true;
  }
  const current = await deps.store.get(owner.user, owner.server);
  return !!current && current.id === entry.sessionId && !isTerminal(current.state);
}
