import type { CoreDeps } from '../core/deps.ts';
import type { TaskStateChangeEvent } from '../core/task-event.ts';
import { handleTaskEvent } from '../core/use-cases/handle-task-event.ts';

/**
 * ECS Task State Change events (EventBridge in AWS, the process runner locally) move
 * sessions along: RUNNING -> route -> ready; STOPPED -> route removed -> stopped/failed.
 */
export function makeTaskEventsHandler(deps: CoreDeps) {
  return async (event: TaskStateChangeEvent) => {
    const result = await handleTaskEvent(deps, event);
    deps.log?.('info', 'task event', {
      taskArn: event.detail.taskArn,
      lastStatus: event.detail.lastStatus,
      outcome: result.outcome,
      state: result.session?.state,
    });
    return { outcome: result.outcome };
  };
}
