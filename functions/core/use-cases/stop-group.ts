import type { CoreDeps } from '../deps.ts';
import { ValidationError } from '../errors.ts';
import type { StopReason } from '../session.ts';
import { listServers } from './list-servers.ts';
import { stopSession } from './stop-server.ts';
import { membersOf } from './users.ts';

export interface GroupStopResult {
  /** Servers asked to stop (stopped at once, or stopping). */
  stopped: number;
  /** Servers whose stop failed; the culler's reconciliation finishes them later. */
  failed: number;
}

/**
 * Stops every active server of the members of `group` (the admin page's bulk action,
 * e.g. at the end of a lab session). One failed stop does not stop the others.
 */
export async function stopGroupServers(
  deps: CoreDeps,
  group: string,
  reason: StopReason,
): Promise<GroupStopResult> {
  if (!group.trim()) throw new ValidationError('Name the group whose servers to stop.', 'missing_group');
  const members = await membersOf(deps, group);
  const sessions = (await listServers(deps)).filter((s) => members.has(s.user));
  const result: GroupStopResult = { stopped: 0, failed: 0 };
  for (const session of sessions) {
    try {
      await stopSession(deps, session, reason);
      result.stopped += 1;
    } catch (error) {
      result.failed += 1;
      deps.log?.('error', 'group stop: a server did not stop', {
        sessionId: session.id,
        error: String(error),
      });
    }
  }
  return result;
}
