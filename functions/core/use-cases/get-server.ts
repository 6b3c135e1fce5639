import type { CoreDeps } from '../deps.ts';
import { HublessError, NotFoundError } from '../errors.ts';
import { advance } from '../lifecycle.ts';
import { isTerminal, type Session } from '../session.ts';

/**
 * The current session of (user, server), moved forward first if it is still starting
 * or stopping: the browser's progress polling then drives the lifecycle even when an
 * event was lost. Throws NotFoundError when the user never started that server.
 */
export async function getServer(deps: CoreDeps, user: string, server: string): Promise<Session> {
  const session = await deps.store.get(user, server);
  if (!session) throw new NotFoundError(`${user} has no server${server ? ` named "${server}"` : ''}.`);
  if (isTerminal(session.state) || session.state === 'ready') return session;
  try {
    return await advance(deps, session);
  } catch (error) {
    // A start that failed for good (full pool, refused) is news for the caller. Anything
    // else (throttling, a timeout) must not turn a status read into an error page: show the
    // session as stored; the next read or task event moves it on.
    if (error instanceof HublessError && (error.code === 'capacity' || error.code === 'spawn_failed'))
      throw error;
    deps.log?.('warn', 'could not move the session forward; showing it as stored', {
      sessionId: session.id,
      error: String(error),
    });
    return session;
  }
}

export async function findServer(deps: CoreDeps, user: string, server: string): Promise<Session | undefined> {
  try {
    return await getServer(deps, user, server);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
