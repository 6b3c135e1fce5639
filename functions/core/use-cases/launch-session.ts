import { contentEnvironment } from '../content.ts';
import type { CoreDeps } from '../deps.ts';
import {
  DependencyTimeoutError,
  HublessError,
  SpawnError,
  StoreUnavailableError,
  ThrottledError,
} from '../errors.ts';
import { LAB_TOKEN_HASH_ENV, labTokenHash } from '../lab-tokens.ts';
import { advance, finish, mutate } from '../lifecycle.ts';
import type { LaunchQueue } from '../ports.ts';
import { baseUrlFor, parseSessionId, type Session, transition } from '../session.ts';

/**
 * The launcher's work: what a start used to do inside the request (the home, then the
 * compute's start), now taken from the launch queue at the pace the platform allows.
 *
 * Idempotent by session, because a queue delivers at least once:
 * - only a `pending` session of exactly this id is launched: a redelivery for a session
 *   already launched, stopped while it waited, or replaced by a newer one is a no-op;
 * - the compute's start is idempotent per session (ECS RunTask's clientToken is derived
 *   from the session id), so a launcher that dies after RunTask and before recording the
 *   task gets the same task back when the message returns, never a second one;
 * - the task is recorded with a conditional write; a launch that loses to a stop stops
 *   the task it started.
 */
export type LaunchOutcome =
  /** The compute accepted the task; the session is `launching` (or further). */
  | 'launched'
  /** Nothing to do: not a pending session of this id (a duplicate, a late one, a stopped one). */
  | 'skipped'
  /** The launch was refused (no capacity, a bad profile, a platform error): recorded as failed, with the reason. */
  | 'failed';

export interface LaunchResult {
  outcome: LaunchOutcome;
  session?: Session;
  /** Why a launch failed (the session records the reason its owner reads). */
  error?: unknown;
}

/**
 * Launches session `sessionId` if it is still waiting for its launch. Throws only what a
 * queue should retry (see isRetryable; the session stays pending and the redelivery
 * launches it); every other failure is recorded on the session and returned as
 * `failed`, so the message is not retried.
 */
export async function launchSession(deps: CoreDeps, sessionId: string): Promise<LaunchResult> {
  let owner: { user: string; server: string };
  try {
    owner = parseSessionId(sessionId);
  } catch {
    deps.log?.('warn', 'a launch names no hubless session; dropped', { sessionId });
    return { outcome: 'skipped' };
  }
  const session = await deps.store.get(owner.user, owner.server);
  if (!session || session.id !== sessionId || session.state !== 'pending')
    return { outcome: 'skipped', ...(session ? { session } : {}) };

  let handle: string;
  let home: string;
  try {
    const profile = deps.settings.profiles.find((p) => p.name === session.profile);
    if (!profile)
      throw new SpawnError(
        `The profile "${session.profile}" no longer exists on this deployment. Start the server again to use another one.`,
      );
    home = await deps.homes.ensure(session.user, await knownHome(deps, session));
    handle = await deps.compute.start({
      sessionId: session.id,
      user: session.user,
      server: session.server,
      profile,
      home,
      sharedData: session.sharedData ?? 'read',
      baseUrl: baseUrlFor(session.user, session.server),
      env: {
        ...deps.labEnvironment(session),
        ...contentEnvironment(session.content),
        HUBLESS_OWNER: session.user,
        HUBLESS_BASE_URL: baseUrlFor(session.user, session.server),
        // Only the token's hash: the environment of a task is visible to whoever may describe it.
        [LAB_TOKEN_HASH_ENV]: labTokenHash(await deps.labTokens.tokenFor(session.id)),
        HUBLESS_SESSION_ID: session.id,
      },
    });
  } catch (error) {
    if (isRetryable(error)) throw error;
    const exposed = error instanceof HublessError && error.expose;
    const reason = exposed
      ? error.message
      : 'The server could not be started because of an internal error. Try again; if it keeps failing, tell your administrator.';
    deps.log?.('error', 'start failed', { sessionId: session.id, error: String(error) });
    const failed = await finish(deps, session, {
      code: exposed && error.code === 'capacity' ? 'capacity' : 'start-failed',
      reason,
    });
    return { outcome: 'failed', session: failed, error };
  }

  const now = deps.clock.now();
  const launched = await mutate(deps, session, (current) =>
    current.id === session.id && current.state === 'pending'
      ? transition(
          current,
          'launching',
          now,
          { computeHandle: handle, home, launchedAt: now.toISOString(), queueTicket: undefined },
          'Server is starting',
        )
      : undefined,
  );
  if (launched.id !== session.id || launched.computeHandle !== handle) {
    // Someone stopped the session while we were launching: do not leave the task running.
    // (A duplicate launch that got the same task back finds it recorded and keeps it.)
    await deps.compute.stop(handle, 'The session was stopped while its server was starting.');
    return { outcome: 'skipped', session: launched };
  }
  // A task event that arrived before the handle was recorded was ignored (the session was
  // still pending): look once now, so nothing waits for a poll that may never come.
  return { outcome: 'launched', session: await advance(deps, launched) };
}

/** AWS (or the session table) is busy or slow, not refusing: a later delivery may well succeed. */
export function isRetryable(error: unknown): boolean {
  return (
    error instanceof ThrottledError ||
    error instanceof DependencyTimeoutError ||
    error instanceof StoreUnavailableError
  );
}

/** The home an earlier session of this user recorded, so Homes need not search for it. */
async function knownHome(deps: CoreDeps, session: Session): Promise<string | undefined> {
  const earlier = (await deps.store.listByUser(session.user)).filter((s) => s.id !== session.id && s.home);
  return earlier.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]?.home;
}

/**
 * No queue: the launch runs inside the start request and its failure is the request's,
 * as hubless started servers before the launch queue. For tests of the lifecycle that
 * are not about the queue, and for the benchmark's before-and-after comparison.
 */
export function launchInRequest(deps: () => CoreDeps): LaunchQueue {
  return {
    async enqueue(sessionId) {
      const result = await launchSession(deps(), sessionId);
      if (result.outcome === 'failed') throw result.error;
      return undefined;
    },
    async ahead() {
      return 0;
    },
    async taken() {},
  };
}
