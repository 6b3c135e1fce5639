import type { CoreDeps } from '../deps.ts';
import type { Session } from '../session.ts';

/**
 * A student's place in the launch queue, for the progress page: "Waiting for capacity:
 * 212 ahead of you" says why nothing moves yet when a whole class started at once.
 * Read only for a session still waiting for its launch, with one cheap read of the
 * queue's counters (never the queue itself); a queue that cannot tell shows nothing.
 */
export async function launchesAhead(deps: CoreDeps, session: Session): Promise<number | undefined> {
  if (session.state !== 'pending' || session.queueTicket === undefined) return undefined;
  try {
    const ahead = await deps.launches.ahead(session.queueTicket);
    return ahead > 0 ? ahead : undefined;
  } catch (error) {
    deps.log?.('warn', 'could not read the place in the launch queue', {
      sessionId: session.id,
      error: String(error),
    });
    return undefined;
  }
}

export function queueMessage(ahead: number): string {
  return `Waiting for capacity: ${ahead} ahead of you`;
}
