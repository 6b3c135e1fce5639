import type { CoreDeps } from '../deps.ts';
import { NotFoundError } from '../errors.ts';
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
  return advance(deps, session);
}

export async function findServer(deps: CoreDeps, user: string, server: string): Promise<Session | undefined> {
  try {
    return await getServer(deps, user, server);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
