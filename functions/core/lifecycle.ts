import type { CoreDeps } from './deps.ts';
import { HublessError, SessionConflictError, ThrottledError } from './errors.ts';
import type { ComputeStatus, LifecycleEvent } from './ports.ts';
import { isTerminal, type Session, type SessionState, type StopReason, transition } from './session.ts';

/**
 * Moving a session forward. Every function here is safe to run from several places at
 * once (the start request, the task-event handler, the browser's progress polling, the
 * culler): each write is conditional on the version read, and a lost race re-reads and
 * decides again from what the winner wrote.
 */

const MAX_ATTEMPTS = 6;

/** Writes `next` over `previous` (conditional on previous.version). */
export async function save(deps: CoreDeps, previous: Session, next: Session): Promise<Session> {
  return deps.store.update(next, previous.version);
}

/**
 * Runs `decide` on the current session and writes what it returns; on a lost race it
 * reads the winner and decides again. `decide` returns undefined for "nothing to do".
 * `written` says whether this call's write landed, so only that caller announces it.
 */
export async function mutateAndTell(
  deps: CoreDeps,
  start: Session,
  decide: (current: Session) => Promise<Session | undefined> | Session | undefined,
): Promise<{ session: Session; written: boolean }> {
  let current = start;
  for (let attempt = 1; ; attempt++) {
    const next = await decide(current);
    if (!next) return { session: current, written: false };
    try {
      return { session: await save(deps, current, next), written: true };
    } catch (error) {
      if (!(error instanceof SessionConflictError) || attempt >= MAX_ATTEMPTS) throw error;
      const winner = error.current as Session | undefined;
      // The item was replaced by a newer session (or deleted): ours is history.
      if (!winner || winner.id !== start.id) return { session: winner ?? current, written: false };
      current = winner;
    }
  }
}

export async function mutate(
  deps: CoreDeps,
  start: Session,
  decide: (current: Session) => Promise<Session | undefined> | Session | undefined,
): Promise<Session> {
  return (await mutateAndTell(deps, start, decide)).session;
}

function secondsBetween(from: string | undefined, to: Date): number | undefined {
  return from ? Math.round((to.getTime() - Date.parse(from)) / 100) / 10 : undefined;
}

/**
 * Ends a session whose server is gone: removes its route (so the ALB slot is free), then
 * records stopped or failed with the reason its owner will read. A server that exits
 * before it was ever ready failed to start; one that was ready simply stopped.
 */
export async function finish(
  deps: CoreDeps,
  session: Session,
  exit: { code: StopReason['code']; reason: string },
): Promise<Session> {
  if (isTerminal(session.state)) return session;
  if (session.route) await deps.router.deleteRoute(session.id, session.route);
  const now = deps.clock.now();
  // The route on the version our write replaces: a racing connect() may have recorded one
  // after we read `session`, and it must not outlive the session.
  let replacedRoute: Session['route'];
  // Only the writer whose transition lands publishes: racing writers (the stop request
  // and the task-stopped event) must not announce the same stop twice.
  const { session: ended, written } = await mutateAndTell(deps, session, (current) => {
    if (isTerminal(current.state) || current.id !== session.id) return undefined;
    const failed = current.state !== 'ready' && current.state !== 'stopping' && exit.code !== 'user';
    const to: SessionState = failed ? 'failed' : 'stopped';
    // A stop someone asked for keeps its own reason (idle, max-age, user); otherwise the exit explains.
    const reason: StopReason =
      current.state === 'stopping' && current.reason
        ? current.reason
        : { code: exit.code, message: exit.reason };
    replacedRoute = current.route;
    return transition(
      current,
      to,
      now,
      { reason, stoppedAt: now.toISOString(), route: undefined, target: undefined },
      reason.message,
    );
  });
  if (written && replacedRoute && JSON.stringify(replacedRoute) !== JSON.stringify(session.route)) {
    await deps.router.deleteRoute(session.id, replacedRoute);
  }
  if (written) await deps.events.publish(endEvent(ended, now));
  return ended;
}

const CULL_CODES: ReadonlySet<string> = new Set(['idle', 'max-age', 'quota']);

function endEvent(ended: Session, now: Date): LifecycleEvent {
  return {
    type: ended.state === 'failed' ? 'fail' : CULL_CODES.has(ended.reason?.code ?? '') ? 'cull' : 'stop',
    time: now.toISOString(),
    user: ended.user,
    server: ended.server,
    sessionId: ended.id,
    reason: ended.reason?.code,
    durationSeconds: secondsBetween(ended.readyAt ?? ended.createdAt, now),
  };
}

/**
 * Takes one step forward given the compute's status (from a task event, or a poll when
 * `status` is not given). Returns the session as stored afterwards. Never moves backwards:
 * a late RUNNING after Stop is ignored by the state machine.
 */
export async function advance(deps: CoreDeps, session: Session, status?: ComputeStatus): Promise<Session> {
  if (isTerminal(session.state) || session.state === 'pending' || !session.computeHandle) return session;
  const current = status ?? (await deps.compute.poll(session.computeHandle));
  if (current.state === 'exited') return finish(deps, session, current);
  if (session.state === 'stopping') return session;
  if (current.state === 'pending') return session;

  let running = session;
  if (session.state === 'launching') {
    const now = deps.clock.now();
    running = await mutate(deps, session, (latest) =>
      latest.state === 'launching'
        ? transition(
            latest,
            'running',
            now,
            { target: current.target },
            'Server is running; connecting it to the web',
          )
        : undefined,
    );
  }
  if (running.state !== 'running') return running;
  return connect(deps, running);
}

/** How long a route claim blocks other writers before it counts as abandoned. */
export const ROUTE_CLAIM_MS = 60_000;

function claimIsFresh(session: Session, now: Date): boolean {
  const at = session.routeClaim ? Date.parse(session.routeClaim.split('#')[0] ?? '') : Number.NaN;
  return Number.isFinite(at) && now.getTime() - at < ROUTE_CLAIM_MS;
}

/** running -> ready: add the route, then wait until the lab answers through it. */
async function connect(deps: CoreDeps, session: Session): Promise<Session> {
  let routed = session;
  if (!session.route) {
    const now = deps.clock.now();
    const claim = `${now.toISOString()}#${deps.randomId(6)}`;
    const claimed = await mutate(deps, session, (latest) =>
      latest.state === 'running' && !latest.route && !claimIsFresh(latest, now)
        ? { ...latest, routeClaim: claim, updatedAt: now.toISOString() }
        : undefined,
    );
    // Someone else holds the claim (or already routed): they finish the job.
    if (claimed.routeClaim !== claim || claimed.route) return claimed;
    let route: Session['route'];
    try {
      route = await deps.router.addRoute(claimed, claimed.target!);
    } catch (error) {
      if (error instanceof ThrottledError) {
        // AWS is busy, not refusing: give the claim back so the next event or poll retries.
        // (The router undid its own partial steps.)
        return mutate(deps, claimed, (latest) =>
          latest.routeClaim === claim
            ? { ...latest, routeClaim: undefined, updatedAt: deps.clock.now().toISOString() }
            : undefined,
        );
      }
      // No route means nobody can reach the server: stop it rather than pay for it.
      const reason =
        error instanceof HublessError && error.expose
          ? error.message
          : 'The server could not be connected to the web.';
      await deps.compute.stop(claimed.computeHandle!, reason);
      await finish(deps, claimed, {
        code: error instanceof HublessError && error.code === 'capacity' ? 'capacity' : 'start-failed',
        reason,
      });
      throw error;
    }
    const recorded = await mutateAndTell(deps, claimed, (latest) =>
      latest.state === 'running' && latest.routeClaim === claim
        ? { ...latest, route, routeClaim: undefined, updatedAt: deps.clock.now().toISOString() }
        : undefined,
    );
    routed = recorded.session;
    if (!recorded.written) {
      // The session moved on (stopped) while we routed: do not leave the route behind.
      await deps.router.deleteRoute(claimed.id, route);
      return routed;
    }
    if (routed.state !== 'running') return routed;
  }
  if (!(await deps.router.isRouteReady(routed))) return routed;
  const now = deps.clock.now();
  const { session: ready, written } = await mutateAndTell(deps, routed, (latest) =>
    latest.state === 'running'
      ? transition(
          latest,
          'ready',
          now,
          { readyAt: now.toISOString(), lastActivity: now.toISOString() },
          'Server ready',
        )
      : undefined,
  );
  if (written) {
    await deps.events.publish({
      type: 'ready',
      time: now.toISOString(),
      user: ready.user,
      server: ready.server,
      sessionId: ready.id,
      durationSeconds: secondsBetween(ready.createdAt, now),
    });
  }
  return ready;
}
