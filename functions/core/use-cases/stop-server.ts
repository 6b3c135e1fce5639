import type { CoreDeps } from '../deps.ts';
import { NotFoundError } from '../errors.ts';
import { advance, finish, mutate } from '../lifecycle.ts';
import { isTerminal, type Session, type StopReason, transition } from '../session.ts';

export interface StopRequest {
  user: string;
  server: string;
  reason: StopReason;
}

/**
 * Stops (user, server). Idempotent: stopping a stopped or stopping session returns it
 * as it is. Returns the session as stored afterwards: `stopped` when the compute
 * confirmed at once (local processes), else `stopping` (the API answers 202, like
 * JupyterHub, and the task-stopped event finishes it).
 */
export async function stopServer(deps: CoreDeps, request: StopRequest): Promise<Session> {
  const session = await deps.store.get(request.user, request.server);
  if (!session)
    throw new NotFoundError(
      `${request.user} has no server${request.server ? ` named "${request.server}"` : ''}.`,
    );
  return stopSession(deps, session, request.reason);
}

export async function stopSession(deps: CoreDeps, session: Session, reason: StopReason): Promise<Session> {
  if (isTerminal(session.state) || session.state === 'stopping') return session;
  const now = deps.clock.now();
  const stopping = await mutate(deps, session, (current) =>
    current.id === session.id && !isTerminal(current.state) && current.state !== 'stopping'
      ? transition(current, 'stopping', now, { reason }, `Stopping: ${reason.message}`)
      : undefined,
  );
  if (stopping.state !== 'stopping' || stopping.id !== session.id) return stopping;
  // Take the route away first: from here on the user must not reach the server.
  if (stopping.route) await deps.router.deleteRoute(stopping.id, stopping.route);
  if (!stopping.computeHandle) return finish(deps, stopping, { code: reason.code, reason: reason.message });
  await deps.compute.stop(stopping.computeHandle, reason.message);
  return advance(deps, stopping);
}
