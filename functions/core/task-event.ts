import type { ComputeStatus } from './ports.ts';
import type { StopCode } from './session.ts';

/**
 * The EventBridge "ECS Task State Change" event, the subset hubless reads. ECS sends it
 * in AWS; the local process runner emits the same shape (source "hubless.local") so one
 * handler serves both. Events can arrive twice and out of order: `detail.version` grows
 * with every change of one task, and the session state machine refuses moves backwards.
 */
export interface TaskStateChangeEvent {
  'detail-type': 'ECS Task State Change';
  source: 'aws.ecs' | 'hubless.local';
  time?: string;
  detail: TaskStateDetail;
}

export interface TaskStateDetail {
  taskArn: string;
  clusterArn?: string;
  lastStatus: string;
  desiredStatus?: string;
  /** hubless sets startedBy to the session id. */
  startedBy?: string;
  stopCode?: string;
  stoppedReason?: string;
  version?: number;
  updatedAt?: string;
  containers?: Array<{
    name?: string;
    lastStatus?: string;
    exitCode?: number;
    reason?: string;
    networkBindings?: Array<{ bindIP?: string; containerPort?: number; hostPort?: number }>;
  }>;
  attachments?: Array<{
    type?: string;
    status?: string;
    details?: Array<{ name: string; value: string }>;
  }>;
}

/** The port labs listen on in their container (jupyter's default). */
export const LAB_PORT = 8888;

const PENDING_STATUSES = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING']);
const STOPPING_STATUSES = new Set(['DEACTIVATING', 'STOPPING', 'DEPROVISIONING']);

/**
 * Maps a task's status to what core understands. RUNNING without an address yet is
 * still pending (the ENI attachment can lag the status). STOPPING counts as pending
 * here only when the task was never running; callers treat it as "not yet exited".
 */
export function taskStatusFromDetail(detail: TaskStateDetail): ComputeStatus {
  const status = detail.lastStatus;
  if (status === 'STOPPED') {
    return { state: 'exited', ...stopReasonFromDetail(detail) };
  }
  if (status === 'RUNNING') {
    const host = detail.attachments
      ?.flatMap((attachment) => attachment.details ?? [])
      .find((entry) => entry.name === 'privateIPv4Address')?.value;
    if (!host)
      return { state: 'pending', message: 'The server is running; waiting for its network address.' };
    const port = detail.containers?.[0]?.networkBindings?.[0]?.hostPort ?? LAB_PORT;
    return { state: 'running', target: { host, port } };
  }
  if (PENDING_STATUSES.has(status))
    return { state: 'pending', message: `The server is ${status.toLowerCase()}.` };
  if (STOPPING_STATUSES.has(status)) return { state: 'pending', message: 'The server is shutting down.' };
  return { state: 'pending', message: `Unknown task status ${status}.` };
}

/**
 * Why a task stopped, in words for its owner. ECS stop codes:
 * UserInitiated, EssentialContainerExited, SpotInterruption, TaskFailedToStart,
 * ServiceSchedulerInitiated, TerminationNotice.
 */
export function stopReasonFromDetail(detail: TaskStateDetail): {
  code: StopCode;
  reason: string;
  exitCode?: number;
} {
  const exitCode = detail.containers?.find((container) => container.exitCode !== undefined)?.exitCode;
  const platformReason = detail.stoppedReason ?? detail.containers?.[0]?.reason;
  switch (detail.stopCode) {
    case 'UserInitiated':
      return { code: 'user', reason: platformReason ?? 'Stopped on request.', exitCode };
    case 'SpotInterruption':
    case 'TerminationNotice':
      return {
        code: 'spot-interruption',
        reason: 'AWS reclaimed the Spot capacity this server ran on. Your files are safe; start it again.',
        exitCode,
      };
    case 'TaskFailedToStart':
      return {
        code: 'start-failed',
        reason: `The server failed to start: ${platformReason ?? 'no reason given by the platform'}.`,
        exitCode,
      };
    case 'EssentialContainerExited':
      if (exitCode === 0) {
        // Jupyter exits cleanly when its own no-activity safety net fires, or when the
        // user chose File > Shut Down: a normal stop, not a crash.
        return {
          code: 'idle',
          reason: 'The server shut itself down (no activity, or shut down from the Jupyter menu).',
          exitCode,
        };
      }
      return stopAsCrash(platformReason, exitCode);
    default:
      return stopAsCrash(platformReason, exitCode);
  }
}

function stopAsCrash(
  platformReason: string | undefined,
  exitCode: number | undefined,
): { code: StopCode; reason: string; exitCode?: number } {
  const detailText = exitCode === undefined ? '' : ` with exit code ${exitCode}`;
  return {
    code: 'crashed',
    reason: `The server exited${detailText}${platformReason ? `: ${platformReason}` : ''}.`,
    exitCode,
  };
}
