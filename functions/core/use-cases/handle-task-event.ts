import type { CoreDeps } from '../deps.ts';
import { SessionConflictError, ValidationError } from '../errors.ts';
import { advance } from '../lifecycle.ts';
import { isTerminal, parseSessionId, type Session } from '../session.ts';
import { type TaskStateChangeEvent, taskStatusFromDetail } from '../task-event.ts';

export type TaskEventOutcome = 'advanced' | 'ignored' | 'orphan-stopped';

/**
 * Applies one task state change (ECS in AWS, the process runner locally). Duplicates
 * and reordering are harmless: the session only moves forward, and an event for a task
 * that is not the session's current one is ignored, or stopped if it still runs.
 */
export async function handleTaskEvent(
  deps: CoreDeps,
  event: TaskStateChangeEvent,
): Promise<{ outcome: TaskEventOutcome; session?: Session }> {
  const detail = event.detail;
  if (!detail?.taskArn) throw new ValidationError('The task event has no detail.taskArn.');
  if (!detail.startedBy) return { outcome: 'ignored' };
  let owner: { user: string; server: string };
  try {
    owner = parseSessionId(detail.startedBy);
  } catch {
    return { outcome: 'ignored' }; // a task someone else started in the same cluster
  }
  const status = taskStatusFromDetail(detail);
  const session = await deps.store.get(owner.user, owner.server);
  const claimed =
    session &&
    session.id === detail.startedBy &&
    (session.state === 'pending' || session.computeHandle === detail.taskArn);
  if (!claimed) {
    if (status.state !== 'exited') {
      await deps.compute.stop(detail.taskArn, 'No session owns this server any more.');
      return { outcome: 'orphan-stopped' };
    }
    return { outcome: 'ignored' };
  }
  // pending: the start request has not recorded the handle yet; it will poll the task itself.
  if (session.state === 'pending' || isTerminal(session.state)) return { outcome: 'ignored', session };
  for (let attempt = 0; ; attempt++) {
    try {
      const latest = attempt === 0 ? session : await deps.store.get(owner.user, owner.server);
      if (!latest || latest.id !== session.id) return { outcome: 'ignored' };
      return { outcome: 'advanced', session: await advance(deps, latest, status) };
    } catch (error) {
      if (!(error instanceof SessionConflictError) || attempt >= 3) throw error;
    }
  }
}
